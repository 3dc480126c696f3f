import type { IDataObject } from 'n8n-workflow';

import type { FireInput } from './fireInput';

// What flows through Fire Trigger's run, stage by stage: one item, from its raw parameters to
// its outcome. A stage settles an item by giving it an outcome; later stages pass it by.

/**
 * What became of one item: fired; skipped, since an earlier execution fired its Fire Once Key or
 * an earlier item of the run has it; or failed, and then whether it may have reached Bitrix24.
 */
export type Outcome =
	| { fired: FireInput; error?: undefined; skipped?: undefined }
	| { skipped: string; fired?: undefined; error?: undefined }
	| { error: Error; fired?: undefined; skipped?: undefined; mayHaveFired: boolean; notSent?: boolean };

/** One item of the run on its way: its input, once checked, its ledger key and its Fire Once Key. */
export interface Item {
	itemIndex: number;
	raw: IDataObject;
	input?: FireInput;
	key?: string;
	onceKey?: string;
	/** "Fire Once Keys Left Unanswered": fire it even if another execution claimed its key and never recorded an answer. */
	fireUnanswered?: boolean;
	outcome?: Outcome;
}

export const failed = (error: Error, mayHaveFired = false): Outcome => ({ error, mayHaveFired });

/** Items checked and not settled yet: the ones a check may still fail, and the ones to fire. */
export const unsettled = (items: Item[]) => items.filter((item) => item.input && !item.outcome);

/** A failure that did not reach Bitrix24 (refused, never sent): nothing to remember of it. */
export const neverReached = (item: Item) => item.outcome?.error !== undefined && !item.outcome.mayHaveFired;
