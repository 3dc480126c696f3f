import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { DEFAULT_OPTIONS } from '../../shared/options';
import { isAmbiguous } from '../../transport/failure';
import { TurnCancelled } from '../../transport/pacer';
import { send, type Sent } from '../../transport/request';
import { answer } from './answer';
import { openClaims } from './claim';
import { apiError, asNodeError, cancelledError, missingRecordError } from './errors';
import { checkFireInput, type FireInput } from './fireInput';
import { fireUnansweredOf, onceKeyOf } from './fireOnce';
import { failed, unsettled, type Item, type Outcome } from './item';
import { atMostOnce, fireKey, recall } from './ledger';
import { missingRecords, recordKey } from './recordCheck';
import { answerMode, openRun, retryPolicy, whileRunning, type Run, type RunSource } from './run';
import { canListTriggers, closestCodesText, forgetTriggerList, triggerList, unknownTriggerError, type Registered } from './triggerCodes';

/** Where a fire goes. */
const FIRE: { method: 'POST'; url: string } = { method: 'POST', url: '/v1/triggers/fire' };

/** What an answer means for an item; a refused code names the registered ones when the run knows them. */
function outcomeOf(run: Run, item: Item, sent: Sent, registered?: Registered[]): Outcome {
	if (!sent.failure) return { fired: item.input as FireInput };
	const error = apiError(run.node, item.itemIndex, sent.failure, 'fire');
	if (sent.failure.bitrixRefusal === 'TRIGGER_NOT_REGISTERED') {
		// The list the check went by had the code: it is out of date, and the next run reads it again.
		forgetTriggerList(run);
		const code = (item.input as FireInput).triggerId;
		const others = registered?.filter((trigger) => trigger.code !== code);
		if (others) error.description = `${error.description ?? ''} ${closestCodesText(code, others)}`.trim();
	}
	return failed(error, isAmbiguous(sent.failure));
}

/** Reads and checks every item before anything is sent; in "Stop" mode a bad item stops the run. */
function checkItems(run: Run): Item[] {
	return run.itemIndices.map((itemIndex) => {
		const raw = {
			entityType: run.parameter('entityType', itemIndex),
			entityId: run.parameter('entityId', itemIndex, '', { extractValue: true }),
			triggerId: run.parameter('triggerId', itemIndex, '', { extractValue: true }),
		} as IDataObject;
		const item: Item = { itemIndex, raw };
		try {
			const entityIdMode = run.parameter('entityId.mode', itemIndex, 'id') as string;
			item.input = checkFireInput(run.node, itemIndex, { ...raw, entityIdMode });
			item.key = fireKey(run.node.name, itemIndex, item.input);
			if (run.options.fireOnce) {
				item.onceKey = onceKeyOf(run.node, itemIndex, run.parameter('options.fireOnceKey', itemIndex, ''), item.input);
				item.fireUnanswered = fireUnansweredOf(run.node, itemIndex, run.parameter('options.fireOnceUnanswered', itemIndex, 'report'));
			}
		} catch (error) {
			if (run.stopOnFailure) throw asNodeError(run.node, itemIndex, error);
			item.outcome = failed(error as Error);
		}
		return item;
	});
}

/**
 * A code the application did not register fails before anything is sent (Bitrix24 would refuse
 * it); the list is read again once when a remembered one lacks a code. A refusal of the key or
 * session fails the items with it. Returns the list, for naming codes later.
 */
async function checkTriggerCodes(run: Run, items: Item[]): Promise<Registered[] | undefined> {
	const unsent = unsettled(items);
	if (!run.options.checkTriggerCodes || !canListTriggers(run.credentials) || !unsent.length || run.signal?.aborted) return undefined;
	const lacks = (registered: Registered[]) =>
		unsent.some((item) => !registered.some((trigger) => trigger.code === item.input?.triggerId));
	let list = await triggerList(run, { fresh: false });
	if (list?.registered && list.remembered && lacks(list.registered)) list = await triggerList(run, { fresh: true });
	if (list?.refusal) {
		for (const item of unsent) item.outcome = failed(apiError(run.node, item.itemIndex, list.refusal, 'fire'));
		return undefined;
	}
	for (const item of list ? unsent : []) {
		const error = unknownTriggerError(run, item.itemIndex, (item.input as FireInput).triggerId, list?.registered ?? []);
		if (error) item.outcome = failed(error);
	}
	return list?.registered;
}

/** An item whose record does not exist fails before anything is sent (Bitrix24 would accept it and run nothing). */
async function checkRecords(run: Run, items: Item[]): Promise<void> {
	const unsent = unsettled(items);
	if (!run.options.checkRecords || !unsent.length || run.signal?.aborted) return;
	const missing = await missingRecords(run, unsent.map((item) => item.input as FireInput));
	for (const item of unsent) {
		const input = item.input as FireInput;
		if (missing.has(recordKey(input))) item.outcome = failed(missingRecordError(run.node, item.itemIndex, input));
	}
}

async function fireOne(run: Run, item: Item, registered?: Registered[]): Promise<Outcome> {
	const input = item.input as FireInput;
	try {
		if (run.stopped || run.signal?.aborted) throw new TurnCancelled();
		const request = { ...run.defaults, ...FIRE, body: input };
		const policy = retryPolicy(run.options, { write: true });
		const sent = await atMostOnce(run.tries, item.key as string, async () => await send.call(run.context, run.paced, request, policy));
		return outcomeOf(run, item, sent, registered);
	} catch (error) {
		if (!(error instanceof TurnCancelled)) throw asNodeError(run.node, item.itemIndex, error);
		return { error: cancelledError(run.node, item.itemIndex), mayHaveFired: false, notSent: true };
	}
}

/**
 * Fire Trigger, for the items of one run: every item is checked before anything is sent, each
 * fire passes the at-most-once ledger and the key's pace, and every item ends as one output
 * item. "On Error: Stop" stops sending at the first failure; cancelling the execution drops
 * every item not yet sent.
 */
export async function fireItems(source: RunSource): Promise<INodeExecutionData[]> {
	let run: Run;
	try {
		run = await openRun(source);
	} catch (error) {
		// A run that cannot open (options that cannot be used, no credential) fails every item, unsent.
		const mode = { node: source.context.getNode(), ...answerMode(source.context), options: DEFAULT_OPTIONS };
		if (mode.stopOnFailure) throw asNodeError(mode.node, source.itemIndices[0], error);
		const items = source.itemIndices.map((itemIndex) => ({ itemIndex, raw: {}, outcome: failed(error as Error) }));
		return answer(mode, items);
	}
	const items = checkItems(run);
	return await whileRunning(run, async () => {
		// An earlier try's fires first: in "Stop" mode a failure among them ends this try before it sends.
		for (const item of items) {
			const known = item.key && recall(run.tries, item.key);
			if (known) item.outcome = outcomeOf(run, item, known);
		}
		const failedAny = () => items.some(({ outcome }) => outcome?.error);
		const claims = run.options.fireOnce && !(run.stopOnFailure && failedAny()) ? openClaims(run, items) : undefined;
		const registered = await checkTriggerCodes(run, items);
		// In "Stop" mode a failure already ends the run: no record is looked up, nothing is sent.
		if (!(run.stopOnFailure && failedAny())) await checkRecords(run, items);
		if (run.stopOnFailure && failedAny()) run.stop();
		try {
			await Promise.all(
				unsettled(items).map(async (item) => {
					// Each key is claimed just before its fire (Fire Once Across Executions).
					if (claims && !(await claims.take(item))) {
						if (run.stopOnFailure && item.outcome?.error && !item.outcome.notSent) run.stop();
						return;
					}
					try {
						item.outcome = await fireOne(run, item, registered);
					} finally {
						claims?.answered(item);
					}
				}),
			);
		} finally {
			await claims?.close();
		}
		return answer(run, items);
	});
}
