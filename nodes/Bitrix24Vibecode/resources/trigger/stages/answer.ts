import type { IDataObject, INode, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { asNodeError, codeOf, stageNote } from '../../../errors';
import { stageFieldOf } from '../../../shared/entityTypes';
import type { FireInput } from '../fireInput';
import type { Item, Outcome, StageChange } from '../item';
import type { Run } from '../run';

// The answer stage: what the run did becomes n8n's output, one item per input item (the error
// output's shape, or an AI tool's answer, for a failure), or the error that stops the node,
// which names what became of the other items.

/** What a fire did to its record's stage, as its item shows it: the stages, moved, and a note when it did not move or is unknown. */
function stageFields(input: FireInput, stage: StageChange): IDataObject {
	const note = stageNote(input, stage);
	return { stageBefore: stage.before, stageAfter: stage.after, moved: stage.moved, ...(note !== undefined && { note }) };
}

/** The answer stage: one output item per input item; in "Stop" mode the first failure stops the node instead. */
export function answer(run: Pick<Run, 'node' | 'asTool' | 'stopOnFailure' | 'options'>, items: Item[]): INodeExecutionData[] {
	const stop = run.stopOnFailure ? items.find(({ outcome }) => outcome?.error && !outcome.notSent) : undefined;
	if (stop) {
		const fired = items.filter(({ outcome }) => outcome?.fired || (outcome?.error && outcome.wasFired)).map(({ itemIndex }) => itemIndex);
		const notSent = items.filter(({ outcome }) => outcome?.error && outcome.notSent).map(({ itemIndex }) => itemIndex);
		const { error, mayHaveFired } = stop.outcome as Extract<Outcome, { error: Error }>;
		throw stopError(run.node, stop.itemIndex, error, { fired, notSent, fireOnce: run.options.fireOnce, mayHaveFired });
	}
	const rehearsal = run.options.rehearse ? { rehearsal: true } : {};
	return items.map(({ itemIndex, raw, input, onceKey, stageBefore, outcome }) => {
		const pairedItem = { item: itemIndex };
		if (outcome?.fired) {
			return { json: { success: true, ...outcome.fired, ...(outcome.stage && stageFields(outcome.fired, outcome.stage)) }, pairedItem };
		}
		if (outcome?.wouldFire) {
			// Its stage now: where a real run would start from.
			const stage = stageFieldOf(outcome.wouldFire.entityType) ? { stageBefore: stageBefore ?? null } : {};
			return { json: { success: true, ...rehearsal, wouldFire: true, ...outcome.wouldFire, ...stage }, pairedItem };
		}
		if (outcome?.skipped) {
			return { json: { success: false, ...rehearsal, skipped: true, reason: outcome.skipped, fireOnceKey: onceKey, ...input }, pairedItem };
		}
		const { error, mayHaveFired, wasFired, stage } = outcome as Extract<Outcome, { error: Error }>;
		const fields = {
			...(input ?? raw),
			...(onceKey !== undefined && { fireOnceKey: onceKey }),
			...(stage && { stageBefore: stage.before, stageAfter: stage.after, moved: stage.moved }),
			...rehearsal,
		};
		return failedItem(itemIndex, error, { asTool: run.asTool, fields, fired: wasFired ? 'yes' : mayHaveFired ? 'maybe' : 'no' });
	});
}

/** What a failed item tells: the fields n8n's error output and an AI agent show. */
function failureFields(error: Error) {
	const api = error instanceof NodeApiError ? error : undefined;
	const response = (api?.errorResponse ?? {}) as IDataObject;
	const httpCode = Number(api?.httpCode);
	const description = (error as { description?: string | null }).description ?? undefined;
	return {
		message: error.message,
		description,
		code: (response.code as string | undefined) ?? codeOf(error) ?? (api ? 'UNKNOWN_FAILURE' : 'INVALID_PARAMETER'),
		httpCode: Number.isInteger(httpCode) ? httpCode : null,
		hint: (response.hint as string | undefined) ?? description,
	};
}

/**
 * A failed item is { error: {…} }, the continue-on-fail shape of n8n's HTTP Request node.
 * n8n (1.x and 2.x) routes an item whose only key is `error` to the error output and adds the
 * input item's fields there. An item with an `error` property outside json would be cut down
 * to { error: message } by the engine, losing the code, the hint and the record.
 */
function errorItem(itemIndex: number, error: Error, fields: IDataObject): INodeExecutionData {
	return { json: { error: { ...failureFields(error), ...fields } }, pairedItem: { item: itemIndex } };
}

/** Whether a failed item's fire reached Bitrix24: no, maybe (an unclear answer), or yes (it fired, and failed for what it did not do). */
export type Fired = 'no' | 'maybe' | 'yes';

/**
 * An AI agent's tool call that failed is answered, not thrown: the model hears what went wrong
 * and whether anything was fired, and can tell the user. No `error` key: n8n's retry loops take
 * an item with one for a failed run and would run the call again.
 */
function toolAnswer(itemIndex: number, error: Error, fields: IDataObject, fired?: Fired): INodeExecutionData {
	return { json: { success: false, ...(fired && { fired }), failure: failureFields(error), ...fields }, pairedItem: { item: itemIndex } };
}

/** A failed item's output: the tool's answer to the model, or n8n's error item. */
export function failedItem(itemIndex: number, error: Error, at: { asTool: boolean; fields: IDataObject; fired?: Fired }): INodeExecutionData {
	return at.asTool ? toolAnswer(itemIndex, error, at.fields, at.fired) : errorItem(itemIndex, error, at.fields);
}

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

const RETRY_FIRES_AGAIN =
	'Retrying this execution (Retry in the executions list) sends every item again, including those that fired or may have fired; so does a Retry after n8n stopped in the middle of a run (a crash, a restart, a deploy). To make a retry fire only what was not sent, turn on the option "Fire Once Across Executions".';
const RETRY_SKIPS_FIRED =
	'Retrying this execution fires only the items that were not sent: "Fire Once Across Executions" skips those that fired or may have fired.';

/**
 * The error that stops a run names what became of the other items, and what n8n's Retry of the
 * execution would do with them: a second run must not fire them again unknowingly.
 */
function stopError(
	node: INode,
	itemIndex: number,
	error: Error,
	others: { fired: number[]; notSent: number[]; fireOnce: boolean; mayHaveFired: boolean },
): Error {
	const { fired, notSent } = others;
	const summary = [
		fired.length > 0 && `Fired before the stop: item${fired.length > 1 ? 's' : ''} ${ranges(fired)}.`,
		notSent.length > 0 && `Not sent: item${notSent.length > 1 ? 's' : ''} ${ranges(notSent)}.`,
		(fired.length > 0 || others.mayHaveFired) && (others.fireOnce ? RETRY_SKIPS_FIRED : RETRY_FIRES_AGAIN),
	]
		.filter(Boolean)
		.join(' ');
	const stopping = asNodeError(node, itemIndex, error);
	if (summary) stopping.description = `${stopping.description ?? ''} ${summary}`.trim();
	return stopping;
}
