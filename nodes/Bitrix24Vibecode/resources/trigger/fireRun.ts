import type { INodeExecutionData } from 'n8n-workflow';

import { asNodeError } from '../../errors';
import { DEFAULT_OPTIONS } from '../../options';
import { failed, type Item } from './item';
import { openRun, stopsHere, whileRunning, type Run, type RunSource } from './run';
import { answer } from './stages/answer';
import { checkInputs } from './stages/check';
import { checkTriggerCodes } from './stages/checkCodes';
import { checkRecords } from './stages/checkRecords';
import { openClaims } from './stages/claim';
import { fire } from './stages/fire';
import { readStagesAfter } from './stages/readBack';
import { recallEarlierTries } from './stages/recall';
import { tellPeople } from './stages/tell';

/** A stage of the run: it settles items by giving them an outcome, and passes settled items by. */
type Stage = (run: Run, items: Item[]) => void | Promise<void>;

/**
 * Fire Trigger, for the items of one run, as stages the items pass through, in this order (the
 * README's "How a fire travels" walks them). Every item is checked before anything is sent, and
 * ends as one output item. "On Error: Stop": between stages, a failure stops the run. Then, stopped
 * or not, the run tells people what needs them (./stages/tell.ts), and answers.
 */
const STAGES: Stage[] = [
	checkInputs, // each item's parameters, before anything is sent
	recallEarlierTries, // an earlier try's fires (Retry On Fail): their outcomes, never sent again
	openClaims, // Fire Once: same-key items skipped, the claims opened
	checkTriggerCodes, // against the application's registered triggers
	checkRecords, // the records exist; their stage before
	fire, // claimed just in time, paced, at most once; a rehearsal sends nothing
	readStagesAfter, // the stage after, once Fire Once recorded the fires
];

export async function fireItems(source: RunSource): Promise<INodeExecutionData[]> {
	let run: Run;
	try {
		run = await openRun(source);
	} catch (error) {
		// A run that cannot open (options that cannot be used, no credential) fails every item, unsent.
		const node = source.context.getNode();
		if (source.stopOnFailure) throw asNodeError(node, source.itemIndices[0], error);
		const items = source.itemIndices.map((itemIndex) => ({ itemIndex, raw: {}, outcome: failed(error as Error) }));
		return answer({ ...source, node, options: DEFAULT_OPTIONS }, items);
	}
	const items: Item[] = run.itemIndices.map((itemIndex) => ({ itemIndex, raw: {} }));
	return await whileRunning(run, async () => {
		for (const stage of STAGES) {
			if (stopsHere(run, items)) break;
			await stage(run, items);
		}
		tellPeople(run, items);
		return answer(run, items);
	});
}
