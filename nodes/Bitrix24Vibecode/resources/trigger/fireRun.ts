import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { DEFAULT_OPTIONS } from '../../shared/options';
import { isAmbiguous } from '../../transport/failure';
import { TurnCancelled } from '../../transport/pacer';
import { send, type Sent } from '../../transport/request';
import {
	apiError,
	asNodeError,
	cancelledError,
	failedItem,
	fireOnceStoreError,
	fireOnceUnconfirmedError,
	fireOnceUnavailableError,
	missingRecordError,
	SKIPPED_EARLIER,
	skippedSameKey,
	stopError,
} from './errors';
import { checkFireInput, type FireInput } from './fireInput';
import { confirmKeys, forgetKeys, onceKeyOf, onceStoreOf, recordKeys } from './fireOnce';
import { atMostOnce, fireKey, recall } from './ledger';
import { missingRecords, recordKey } from './recordCheck';
import { answerMode, openRun, retryPolicy, whileRunning, type Run, type RunSource } from './run';
import { canListTriggers, closestCodesText, forgetTriggerList, triggerList, unknownTriggerError, type Registered } from './triggerCodes';

/** Where a fire goes. */
const FIRE: { method: 'POST'; url: string } = { method: 'POST', url: '/v1/triggers/fire' };

/**
 * What became of one item: fired; skipped, since another execution or item has its Fire Once
 * Key; or failed, and then whether it may have reached Bitrix24.
 */
type Outcome =
	| { fired: FireInput; error?: undefined; skipped?: undefined }
	| { skipped: string; fired?: undefined; error?: undefined }
	| { error: Error; fired?: undefined; skipped?: undefined; mayHaveFired: boolean; notSent?: boolean };

/** One item of the run on its way: its input, once checked, its ledger key and its Fire Once Key. */
interface Item {
	itemIndex: number;
	raw: IDataObject;
	input?: FireInput;
	key?: string;
	onceKey?: string;
	outcome?: Outcome;
}

const failed = (error: Error, mayHaveFired = false): Outcome => ({ error, mayHaveFired });

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

/** Items checked and not settled yet: the ones a check may still fail, and the ones to fire. */
const unsettled = (items: Item[]) => items.filter((item) => item.input && !item.outcome);

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
			if (run.options.fireOnce) item.onceKey = onceKeyOf(run.node, itemIndex, run.parameter('options.fireOnceKey', itemIndex, ''), item.input);
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

/**
 * Fire Once Across Executions, before anything is sent: an item whose key another execution of
 * the node holds, or an earlier item of the run, is skipped; the others' keys are recorded, and
 * confirmed while the run checks its items (`confirmed`: the fires wait for it). `forget`, after
 * the fires, forgets the keys of what did not reach Bitrix24.
 */
async function claimOnce(run: Run, items: Item[]): Promise<{ confirmed: Promise<void>; forget(): Promise<void> }> {
	const nothing = { confirmed: Promise.resolve(), forget: async () => {} };
	const first = new Map<string, Item>();
	for (const item of unsettled(items)) {
		const earlier = first.get(item.onceKey as string);
		if (earlier) item.outcome = { skipped: skippedSameKey(earlier.itemIndex) };
		else first.set(item.onceKey as string, item);
	}
	const once = first.size ? onceStoreOf(run) : undefined;
	const failAll = (error: (itemIndex: number) => Error) => {
		for (const item of first.values()) if (!item.outcome) item.outcome = failed(error(item.itemIndex));
	};
	if (!once) {
		failAll((itemIndex) => fireOnceUnavailableError(run.node, itemIndex));
		return nothing;
	}
	let taken: Set<string>;
	try {
		taken = await recordKeys(once, [...first.keys()]);
	} catch (error) {
		failAll((itemIndex) => fireOnceStoreError(run.node, itemIndex, error));
		return nothing;
	}
	for (const [key, item] of first) if (taken.has(key)) item.outcome = { skipped: SKIPPED_EARLIER };
	const claimed = [...first.values()].filter((item) => !taken.has(item.onceKey as string));
	const confirmed = confirmKeys(once, claimed.map((item) => item.onceKey as string)).then(
		(whose) => {
			for (const item of claimed) {
				const verdict = whose.get(item.onceKey as string);
				if (verdict === 'another') item.outcome = { skipped: SKIPPED_EARLIER };
				else if (verdict === 'unsure') item.outcome = failed(fireOnceUnconfirmedError(run.node, item.itemIndex));
			}
		},
		(error) => {
			for (const item of claimed) item.outcome ??= failed(fireOnceStoreError(run.node, item.itemIndex, error));
		},
	);
	// A fire with no outcome (the run broke off) is kept: it may have been sent.
	const notSent = (item: Item) => item.outcome?.error !== undefined && !item.outcome.mayHaveFired;
	const forget = async () => await forgetKeys(run, once, claimed.filter(notSent).map((item) => item.onceKey as string));
	return { confirmed, forget };
}

async function fireOne(run: Run, item: Item, stopped: boolean, registered?: Registered[]): Promise<Outcome> {
	const input = item.input as FireInput;
	try {
		if (stopped || run.signal?.aborted) throw new TurnCancelled();
		const request = { ...run.defaults, ...FIRE, body: input };
		const policy = retryPolicy(run.options, { write: true });
		const sent = await atMostOnce(run.tries, item.key as string, async () => await send.call(run.context, run.paced, request, policy));
		return outcomeOf(run, item, sent, registered);
	} catch (error) {
		if (!(error instanceof TurnCancelled)) throw asNodeError(run.node, item.itemIndex, error);
		return { error: cancelledError(run.node, item.itemIndex), mayHaveFired: false, notSent: true };
	}
}

/** One output item per input item; in "Stop" mode the first failure stops the node instead. */
function answer(run: Pick<Run, 'node' | 'asTool' | 'stopOnFailure' | 'options'>, items: Item[]): INodeExecutionData[] {
	const stop = run.stopOnFailure ? items.find(({ outcome }) => outcome?.error && !outcome.notSent) : undefined;
	if (stop) {
		const fired = items.filter(({ outcome }) => outcome?.fired).map(({ itemIndex }) => itemIndex);
		const notSent = items.filter(({ outcome }) => outcome?.error && outcome.notSent).map(({ itemIndex }) => itemIndex);
		const { error, mayHaveFired } = stop.outcome as Extract<Outcome, { error: Error }>;
		throw stopError(run.node, stop.itemIndex, error, { fired, notSent, fireOnce: run.options.fireOnce, mayHaveFired });
	}
	return items.map(({ itemIndex, raw, input, onceKey, outcome }) => {
		if (outcome?.fired) return { json: { success: true, ...outcome.fired }, pairedItem: { item: itemIndex } };
		if (outcome?.skipped) {
			const json = { success: false, skipped: true, reason: outcome.skipped, fireOnceKey: onceKey, ...input };
			return { json, pairedItem: { item: itemIndex } };
		}
		const { error, mayHaveFired } = outcome as Extract<Outcome, { error: Error }>;
		return failedItem(itemIndex, error, { asTool: run.asTool, fields: { ...(input ?? raw) }, fired: mayHaveFired ? 'maybe' : 'no' });
	});
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
		// Skipped items cost no check; a claimed item that then fails one is forgotten again.
		const once = run.options.fireOnce && !(run.stopOnFailure && failedAny()) ? await claimOnce(run, items) : undefined;
		try {
			const registered = await checkTriggerCodes(run, items);
			// In "Stop" mode a failure already ends the run: no record is looked up, nothing is sent.
			if (!(run.stopOnFailure && failedAny())) await checkRecords(run, items);
			await once?.confirmed;
			const stopped = run.stopOnFailure && failedAny();
			await Promise.all(
				unsettled(items).map(async (item) => {
					item.outcome = await fireOne(run, item, stopped, registered);
				}),
			);
		} finally {
			await once?.forget();
		}
		return answer(run, items);
	});
}
