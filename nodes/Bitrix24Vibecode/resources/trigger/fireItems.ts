import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, INode, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { readOptions } from '../../shared/options';
import { toNodeApiError } from '../../transport/errors';
import { cancelledError, errorItem, sendItem, type NodeRun } from '../../transport/itemRunner';
import { TurnCancelled } from '../../transport/pacer';
import { fireKey, recall } from '../../transport/ledger';
import { CREDENTIAL_TYPE, pacerOf, requestDefaultsOf, type Sent } from '../../transport/request';
import { checkFireInput, type FireInput } from './fireInput';
import { canListTriggers, checkTriggerCode, registeredTriggers } from './triggerCodes';

type Checked = {
	inputs: Array<FireInput | undefined>;
	bodies: IDataObject[];
	outcomes: Outcome[];
	defaults: IHttpRequestOptions;
	checkCodes: boolean;
};
type Outcome = { fired: IDataObject; error?: undefined; notSent?: undefined } | { fired?: undefined; error: Error; notSent?: boolean };

const asNodeError = (node: INode, error: unknown) =>
	error instanceof NodeApiError || error instanceof NodeOperationError ? error : new NodeOperationError(node, error as Error);

/** "0–2, 5, 7–9": item numbers as ranges. */
function ranges(indices: number[]): string {
	const parts: string[] = [];
	for (let i = 0; i < indices.length; i++) {
		let j = i;
		while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
		parts.push(j === i ? `${indices[i]}` : `${indices[i]}–${indices[j]}`);
		i = j;
	}
	return parts.join(', ');
}

/** The stop error names what became of the other items: a second run must not fire them again. */
function stopError(this: IExecuteFunctions, at: number, outcomes: Outcome[]): Error {
	const error = outcomes[at].error as Error;
	const fired = outcomes.flatMap((o, i) => (o.fired ? [i] : []));
	const notSent = outcomes.flatMap((o, i) => (o.error && o.notSent ? [i] : []));
	const summary = [
		fired.length > 0 && `Fired before the stop: item${fired.length > 1 ? 's' : ''} ${ranges(fired)}.`,
		notSent.length > 0 && `Not sent: item${notSent.length > 1 ? 's' : ''} ${ranges(notSent)}.`,
	]
		.filter(Boolean)
		.join(' ');
	if (!summary) return error;
	const description = `${(error as NodeApiError).description ?? ''} ${summary}`.trim();
	// A copy: the ledger replays the original on a retry, and must not collect summaries.
	return error instanceof NodeApiError
		? new NodeApiError(this.getNode(), error.errorResponse ?? {}, {
				message: error.message,
				description,
				httpCode: error.httpCode ?? undefined,
				itemIndex: at,
			})
		: new NodeOperationError(this.getNode(), error.message, { itemIndex: at, description });
}

/**
 * Fire Trigger for the items of one node run (n8n's customOperations: the node owns the
 * loop). Every item is checked before anything is sent; "On Error: Stop" stops sending at the
 * first failure, and cancelling the execution drops every item not yet sent.
 */
export async function fireItems(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const node = this.getNode();
	const continueOnFail = this.continueOnFail();
	const outcomes: Outcome[] = [];
	const inputs: Array<FireInput | undefined> = [];
	const bodies: IDataObject[] = [];

	let options;
	try {
		options = readOptions(node, this.getNodeParameter('options', 0, {}), 0);
	} catch (error) {
		if (!continueOnFail) throw asNodeError(node, error);
		return [items.map((_, index) => errorItem(error as Error, {}, index))];
	}
	for (let index = 0; index < items.length; index++) {
		const body = (bodies[index] = {
			entityType: this.getNodeParameter('entityType', index),
			entityId: this.getNodeParameter('entityId', index, '', { extractValue: true }),
			triggerId: this.getNodeParameter('triggerId', index, '', { extractValue: true }),
		} as IDataObject);
		try {
			inputs[index] = checkFireInput(node, index, body, this.getNodeParameter('entityId.mode', index, 'id') as string);
		} catch (error) {
			if (!continueOnFail) throw asNodeError(node, error);
			outcomes[index] = { error: error as Error };
		}
	}

	const credentials = await this.getCredentials(CREDENTIAL_TYPE);
	const defaults = requestDefaultsOf.call(this, credentials);
	const signal = this.getExecutionCancelSignal();
	// Every try of Retry On Fail gets the same execute data: fires it already knows are not sent again.
	const run: NodeRun = { pacer: pacerOf(credentials), options, turns: {}, tries: this.getExecuteData() };
	const stop = () => run.pacer.cancel(run.turns);
	if (!continueOnFail) run.onFailure = stop;
	signal?.addEventListener('abort', stop);
	try {
		return await fireChecked.call(this, run, { inputs, bodies, outcomes, defaults, checkCodes: canListTriggers(credentials) });
	} finally {
		signal?.removeEventListener('abort', stop);
	}
}

/** The items' fires, once the inputs are checked and the run is set up. */
async function fireChecked(
	this: IExecuteFunctions,
	run: NodeRun,
	{ inputs, bodies, outcomes, defaults, checkCodes }: Checked,
): Promise<INodeExecutionData[][]> {
	const node = this.getNode();
	const continueOnFail = this.continueOnFail();
	const signal = this.getExecutionCancelSignal();
	const fromSent = (sent: Sent, itemIndex: number, fields: IDataObject): Outcome =>
		sent.failure
			? { error: toNodeApiError(node, sent.failure, 'fire', itemIndex) }
			: { fired: { success: true, ...fields } };
	// An earlier try's fires first: in "Stop" mode a failure among them ends this try before it sends.
	inputs.forEach((input, itemIndex) => {
		const known = input && recall(run.tries, fireKey(node.name, itemIndex, input));
		if (known) outcomes[itemIndex] = fromSent(known, itemIndex, input);
	});
	// A code the application did not register fires nothing: fail it before anything is sent.
	const unsent = inputs.some((input, itemIndex) => input && !outcomes[itemIndex]);
	if (checkCodes && run.options.checkTriggerCodes && unsent && !signal?.aborted) {
		const { pacer, options, turns } = run;
		const registered = await registeredTriggers.call(this, { pacer, options, run: turns, base: defaults });
		inputs.forEach((input, itemIndex) => {
			if (!registered || !input || outcomes[itemIndex]) return;
			try {
				checkTriggerCode(node, itemIndex, input.triggerId, registered);
			} catch (error) {
				outcomes[itemIndex] = { error: error as Error };
			}
		});
	}
	const stopped = !continueOnFail && outcomes.some((o) => o?.error);
	await Promise.all(
		inputs.map(async (fields, itemIndex) => {
			if (!fields || outcomes[itemIndex]) return;
			try {
				if (stopped || signal?.aborted) throw new TurnCancelled();
				const request = { ...defaults, method: 'POST' as const, url: '/v1/triggers/fire', body: fields };
				const sent = await sendItem.call(this, run, { operation: 'fire', request, itemIndex, fields });
				outcomes[itemIndex] = fromSent(sent, itemIndex, fields);
			} catch (error) {
				if (!(error instanceof TurnCancelled)) throw asNodeError(node, error);
				outcomes[itemIndex] = { error: cancelledError(this, itemIndex), notSent: true };
			}
		}),
	);

	const failed = outcomes.findIndex((o) => o.error && !o.notSent);
	if (!continueOnFail && failed >= 0) throw stopError.call(this, failed, outcomes);
	return [
		outcomes.map((outcome, index) =>
			outcome.fired
				? { json: outcome.fired, pairedItem: { item: index } }
				: errorItem(outcome.error, { ...(inputs[index] ?? bodies[index]) }, index),
		),
	];
}
