import type { INodeExecutionData } from 'n8n-workflow';

import { DEFAULT_OPTIONS } from '../../shared/options';
import { answer } from './answer';
import { checkItems } from './check';
import { openClaims } from './claim';
import { asNodeError } from './errors';
import type { FireInput } from './fireInput';
import { failed, unsettled } from './item';
import { readStagesAfter } from './readBack';
import { checkRecords } from './recordCheck';
import { answerMode, openRun, whileRunning, type Run, type RunSource } from './run';
import { fireOne, recallEarlierTries } from './send';
import { checkTriggerCodes } from './triggerCodes';

/**
 * Fire Trigger, for the items of one run, as stages the items pass through: check (inputs),
 * recall (an earlier try's fires), claim (Fire Once keys, just before each fire), verify
 * (trigger codes, records and their stages), fire, read back (the stages after), answer. Every
 * item is checked before anything is sent, and ends as one output item. A rehearsal runs every
 * stage but the fire and the read-back, and records nothing. "On Error: Stop" stops sending at the first failure; cancelling the
 * execution drops every item not yet sent.
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
		// In "Stop" mode a failure among an earlier try's fires ends this try before it sends.
		recallEarlierTries(run, items);
		// "On Error: Stop": once an item has failed, nothing more is looked up, claimed or sent.
		const stopsHere = () => {
			const stop = run.stopOnFailure && items.some(({ outcome }) => outcome?.error);
			if (stop) run.stop();
			return stop;
		};
		const claims = stopsHere() ? undefined : openClaims(run, items);
		const registered = await checkTriggerCodes(run, items);
		if (!stopsHere()) await checkRecords(run, items);
		stopsHere();
		try {
			await Promise.all(
				unsettled(items).map(async (item) => {
					if (claims && !(await claims.take(item))) {
						stopsHere();
						return;
					}
					if (run.options.rehearse) {
						// Nothing is sent, and no claim was made to answer.
						item.outcome = { wouldFire: item.input as FireInput };
						return;
					}
					try {
						item.outcome = await fireOne(run, item, registered);
					} finally {
						claims?.answered(item);
					}
				}),
			);
		} finally {
			await claims?.close();
		}
		// After Fire Once recorded the fires: what the read-back finds never changes what was fired.
		await readStagesAfter(run, items);
		return answer(run, items);
	});
}
