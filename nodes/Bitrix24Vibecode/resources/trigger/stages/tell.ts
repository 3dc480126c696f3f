import type { IExecuteFunctions } from 'n8n-workflow';

import { endLine, needsCheckLine, noCustomDataLine, runHints } from '../notices';
import type { Item } from '../item';
import type { Run } from '../run';
import { needsCheck, tallyOf, type Tally } from '../tally';

// The tell stage: once the run is over, what needs a person is shown where people look. The
// output pane starts with a hint per kind of item to check; the execution's custom data holds the
// run's counts, which the executions list filters on (`vibecode_needs_check` = `yes`); n8n's log
// gets the totals (info after a long run, debug otherwise) and a warning naming what to check.

/** Custom execution data, as n8n hands it to nodes on 1.x and 2.x alike ($execution.customData). */
interface CustomData {
	get(key: string): string | undefined;
	set(key: string, value: string): void;
}

/** Long enough for a run's totals to be worth an operator's log. */
const LONG_RUN_MS = 30_000;

/**
 * The run's counts, the most needed first (n8n keeps 10 keys an execution and drops the rest).
 * Several Fire nodes of one execution add their counts up: six keys whatever their number, and
 * a node's own items are told apart by its output pane's hints.
 */
function countsOf(tally: Tally): Array<[string, number]> {
	return [
		['vibecode_may_have_fired', tally.mayHaveFired.length + tally.unanswered.length],
		['vibecode_failed', tally.failed.length],
		['vibecode_not_moved', tally.notMoved.length],
		['vibecode_skipped', tally.skipped],
		['vibecode_fired', tally.fired],
	];
}

/** Adds the run's counts to the execution's custom data; says why not, when it cannot. */
function recordCounts(run: Run, tally: Tally): string | undefined {
	if (run.asTool) return 'an AI tool call has none of its own';
	if (run.options.rehearse) return 'a rehearsal fires nothing';
	let data: CustomData | undefined;
	try {
		data = (run.context.getWorkflowDataProxy(run.itemIndices[0] ?? 0).$execution as { customData?: CustomData } | undefined)?.customData;
	} catch {
		data = undefined;
	}
	if (!data) return 'this run has no execution data to hold it';
	const entries: Array<[string, string]> = countsOf(tally).map(([key, n]) => [key, String(Number(data.get(key) ?? 0) + n)]);
	if (needsCheck(tally)) entries.unshift(['vibecode_needs_check', 'yes']);
	const dropped = entries.filter(([key, value]) => {
		data.set(key, value);
		return data.get(key) !== value;
	});
	return dropped.length ? `n8n keeps 10 keys an execution and others took them (${dropped.map(([key]) => key).join(', ')} not written)` : undefined;
}

export function tellPeople(run: Run, items: Item[]) {
	const tally = tallyOf(items);
	const { logger } = run.context;
	// An AI tool's answer goes to the model. A run that "On Error: Stop" stops shows its error (n8n drops its hints).
	if (!run.asTool && 'addExecutionHints' in run.context) {
		const where = run.node.onError === 'continueErrorOutput' ? 'error output' : 'main output';
		(run.context as IExecuteFunctions).addExecutionHints(...runHints(tally, { where, notMovedFails: run.options.whenNotMoved === 'fail', rehearse: run.options.rehearse }));
	}
	const notCounted = recordCounts(run, tally);
	if (notCounted) logger.debug(noCustomDataLine(run.label, notCounted));
	const tookMs = run.fires.paced.pacer.clock.now() - run.progress.startedAt;
	const toCheck = needsCheck(tally) > 0;
	if (toCheck) logger.warn(needsCheckLine(run.label, tally));
	// A webhook stream of one-deal runs adds nothing to an info log.
	if (tookMs >= LONG_RUN_MS) logger.info(endLine(run.label, tally, tookMs));
	else if (!toCheck) logger.debug(endLine(run.label, tally, tookMs));
}
