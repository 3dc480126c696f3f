import type { IDataObject, INode } from 'n8n-workflow';

import { cancelledError } from '../../errors';
import type { FireInput } from './fireInput';

// What flows through Fire Trigger's run, stage by stage: one item, from its raw parameters to
// its outcome. A stage settles an item by giving it an outcome; later stages pass it by.

/**
 * What a fire did to its record's stage (types with stages, "Report Stage Change"): the stage read
 * before the fire and after the run's fires were answered; null where it could not be read, and
 * then whether it moved is unknown (null).
 */
export interface StageChange {
	before: string | null;
	after: string | null;
	moved: boolean | null;
}

/**
 * What became of one item: fired (with what it did to the record's stage, when read); in a
 * rehearsal, would be fired; skipped, since an earlier execution fired its Fire Once Key or an
 * earlier item of the run has it; or failed, and then whether it may have reached Bitrix24 — or
 * did (`wasFired`: fired, and failed for what the fire did not do, "When the Record Did Not Move").
 */
export type Outcome =
	| Only<{ fired: FireInput; stage?: StageChange }>
	| Only<{ wouldFire: FireInput }>
	| Only<{ skipped: string }>
	| Only<{ error: Error; mayHaveFired: boolean; notSent?: boolean; wasFired?: boolean; stage?: StageChange }>;

/** One kind of outcome: the others' fields are absent, so that `outcome.error` and the like tell the kinds apart. */
type Only<T> = T & { [K in Exclude<'fired' | 'wouldFire' | 'skipped' | 'error', keyof T>]?: undefined };

/** One item of the run on its way: its input, once checked, its ledger key and its Fire Once Key. */
export interface Item {
	itemIndex: number;
	raw: IDataObject;
	input?: FireInput;
	key?: string;
	onceKey?: string;
	/** "Fire Once Keys Left Unanswered": fire it even if another execution claimed its key and never recorded an answer. */
	fireUnanswered?: boolean;
	/** The record's stage as the record check's search read it, before any fire; null: it has none there. Unset: not read. */
	stageBefore?: string | null;
	outcome?: Outcome;
}

export const failed = (error: Error, mayHaveFired = false): Outcome => ({ error, mayHaveFired });

/** An item the run dropped before it was sent: it stopped, or the execution was cancelled. */
export const cancelled = (node: INode, itemIndex: number): Outcome => ({ error: cancelledError(node, itemIndex), mayHaveFired: false, notSent: true });

/** Items checked and not settled yet: the ones a check may still fail, and the ones to fire. */
export const unsettled = (items: Item[]) => items.filter((item) => item.input && !item.outcome);

/** A failure that did not reach Bitrix24 (refused, never sent): nothing to remember of it. */
export const neverReached = (item: Item) => item.outcome?.error !== undefined && !item.outcome.mayHaveFired;
