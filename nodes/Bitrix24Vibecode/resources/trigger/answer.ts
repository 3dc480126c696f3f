import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { stageFieldOf } from './entityTypes';
import { failedItem, stageNote, stopError } from './errors';
import type { FireInput } from './fireInput';
import type { Item, Outcome, StageChange } from './item';
import type { Run } from './run';

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
