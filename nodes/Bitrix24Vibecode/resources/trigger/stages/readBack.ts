import { notMovedError } from '../../../errors';
import { recordKey, stageFieldOf } from '../../../shared/entityTypes';
import type { FireInput } from '../fireInput';
import type { Item, StageChange } from '../item';
import { lookUp } from '../records';
import type { Run } from '../run';
import { triesMemory } from '../triesMemory';

// The read-back stage of Fire Trigger's run, for "Report Stage Change": Bitrix24 answers a fire
// with success also when its automation moved nothing (the trigger not set on the record's
// pipeline, its conditions not met, the record at the trigger's stage or past it), and says to
// read the record back to know. Once the run's fires are answered, the stage of every fired record
// of a type with stages is read again, one search per up to 50 records of a type, and compared with
// the stage the record check read before. It runs after Fire Once has recorded the fires, and
// changes nothing of what was fired: a read that fails makes the stage unknown, never a resend.

/** What an earlier try of the run (Retry On Fail, an AI tool's retries) read of its fires: a fire recalled is not read again. */
const rememberedOf = triesMemory<StageChange>();

/** Each fired record's stage after the fire, and whether it moved; with "Fail the Item", one that did not move fails, still fired. */
export async function readStagesAfter(run: Run, items: Item[]): Promise<void> {
	if (!run.options.reportStageChange || run.options.rehearse) return;
	const fired = items.filter((item) => item.outcome?.fired && stageFieldOf(item.outcome.fired.entityType));
	if (!fired.length) return;
	const remembered = rememberedOf(run.tries);
	const unread = fired.filter((item) => !remembered.has(item.key as string));
	const looked = unread.length && !run.signal?.aborted ? await lookUp(run, unread.map((item) => item.outcome?.fired as FireInput)) : new Map();
	for (const item of unread) {
		const found = looked.get(recordKey(item.outcome?.fired as FireInput));
		const after = found?.exists ? found.stage : null;
		const before = item.stageBefore ?? null;
		remembered.set(item.key as string, { before, after, moved: before !== null && after !== null ? before !== after : null });
	}
	for (const item of fired) {
		const input = item.outcome?.fired as FireInput;
		const stage = remembered.get(item.key as string) as StageChange;
		item.outcome =
			stage.moved === false && run.options.whenNotMoved === 'fail'
				? { error: notMovedError(run.node, item.itemIndex, input, stage.after as string), mayHaveFired: false, wasFired: true, stage }
				: { fired: input, stage };
	}
}
