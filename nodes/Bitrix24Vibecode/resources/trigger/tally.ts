import { codeOf } from '../../errors';
import type { RecordRef } from '../../shared/entityTypes';
import type { Item } from './item';

/** An item as a person looks for it: its record, when its input named one, and its number. */
export interface Named {
	itemIndex: number;
	record?: RecordRef;
}

/**
 * What became of a run's items, by the kinds a person acts on: the ones that need a check by
 * hand (may have fired, Fire Once keys left unanswered, failed), and the rest.
 */
export interface Tally {
	total: number;
	/** Items with an outcome so far. */
	done: number;
	/** Fired: Bitrix24 accepted the fire (also when the record then did not move). */
	fired: number;
	notMoved: Named[];
	/** A fire whose answer did not say whether it reached Bitrix24. */
	mayHaveFired: Named[];
	/** Fire Once: another execution claimed the key and never recorded an answer; not sent. */
	unanswered: Named[];
	/** Failed, not fired: refused, invalid, missing, stopped. */
	failed: Named[];
	skipped: number;
	/** A rehearsal's items that a real run would fire. */
	wouldFire: number;
}

export function tallyOf(items: Item[]): Tally {
	const tally: Tally = { total: items.length, done: 0, fired: 0, notMoved: [], mayHaveFired: [], unanswered: [], failed: [], skipped: 0, wouldFire: 0 };
	for (const { itemIndex, input, outcome } of items) {
		if (!outcome) continue;
		tally.done++;
		const named = { itemIndex, record: input };
		if (outcome.skipped !== undefined) tally.skipped++;
		else if (outcome.wouldFire) tally.wouldFire++;
		else if (outcome.fired || outcome.wasFired) {
			tally.fired++;
			if (outcome.stage?.moved === false) tally.notMoved.push(named);
		} else if (outcome.error && codeOf(outcome.error) === 'FIRE_ONCE_UNANSWERED') tally.unanswered.push(named);
		else if (outcome.mayHaveFired) tally.mayHaveFired.push(named);
		else tally.failed.push(named);
	}
	return tally;
}

/** Items a person must look at before anything is run again. */
export const needsCheck = (tally: Tally) => tally.mayHaveFired.length + tally.unanswered.length + tally.failed.length;
