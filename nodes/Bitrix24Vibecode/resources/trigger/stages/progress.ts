import { progressLine } from '../notices';
import type { Item } from '../item';
import type { Run } from '../run';
import { tallyOf } from '../tally';

/** A line at most this often, and only once the run has lasted this long: a webhook's one-deal run writes none. */
const EVERY_MS = 30_000;
/** The pace is read over the last minute. */
const PACE_OVER_MS = 60_000;

/**
 * A long run says how it goes in n8n's log, for an operator who reads the log and not the editor:
 * after a fire is answered, at most every 30 seconds, what is done and left, the pace now and the
 * time left at it, and what holds the pace below the key's limit.
 */
export function noteProgress(run: Run, items: Item[]) {
	const { progress } = run;
	const { pacer, turn } = run.fires.paced;
	const now = pacer.clock.now();
	progress.answeredAt.push(now);
	while (progress.answeredAt[0] <= now - PACE_OVER_MS) progress.answeredAt.shift();
	// The last item's answer is the end of the run, whose own line follows (./tell.ts).
	if (now - progress.lineAt < EVERY_MS || items.every((item) => item.outcome)) return;
	progress.lineAt = now;
	const perMinute = (progress.answeredAt.length / Math.min(PACE_OVER_MS, now - progress.startedAt)) * 60_000;
	run.context.logger.info(progressLine(run.label, tallyOf(items), { perMinute, holds: pacer.holdsBack(turn) }));
}
