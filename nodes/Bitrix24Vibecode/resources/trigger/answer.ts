import type { INodeExecutionData } from 'n8n-workflow';

import { failedItem, stopError } from './errors';
import type { Item, Outcome } from './item';
import type { Run } from './run';

/** The answer stage: one output item per input item; in "Stop" mode the first failure stops the node instead. */
export function answer(run: Pick<Run, 'node' | 'asTool' | 'stopOnFailure' | 'options'>, items: Item[]): INodeExecutionData[] {
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
		const fields = { ...(input ?? raw), ...(onceKey !== undefined && { fireOnceKey: onceKey }) };
		return failedItem(itemIndex, error, { asTool: run.asTool, fields, fired: mayHaveFired ? 'maybe' : 'no' });
	});
}
