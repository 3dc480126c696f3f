import { asNodeError } from '../../../errors';
import { TurnCancelled } from '../../../transport/pacer';
import { send } from '../../../transport/request';
import { fireOutcome } from '../fireAnswer';
import type { FireInput } from '../fireInput';
import { cancelled, unsettled, type Item, type Outcome } from '../item';
import { atMostOnce } from '../ledger';
import { stopRun, type Run } from '../run';
import { noteProgress } from './progress';

/** Where a fire goes. */
const FIRE: { method: 'POST'; url: string } = { method: 'POST', url: '/v1/triggers/fire' };

/** One item's fire, through the at-most-once ledger and the key's pace, and what its answer means. */
async function fireOne(run: Run, item: Item): Promise<Outcome> {
	try {
		if (run.stopped || run.signal?.aborted) throw new TurnCancelled();
		const request = { ...run.defaults, ...FIRE, body: item.input as FireInput };
		const { paced, policy } = run.fires;
		const sent = await atMostOnce(run.tries, item.key as string, async () => await send.call(run.context, paced, request, policy));
		return fireOutcome(run, item, sent);
	} catch (error) {
		if (!(error instanceof TurnCancelled)) throw asNodeError(run.node, item.itemIndex, error);
		return cancelled(run.node, item.itemIndex);
	}
}

/**
 * The fire stage: every item still unsettled is fired, each as soon as the key's pace lets it
 * and, with Fire Once, once its key is claimed (just before it goes: see ../fireOnce/claiming.ts).
 * A rehearsal claims and sends nothing. "On Error: Stop": a final failure stops the run, and what
 * waits is not sent.
 */
export async function fire(run: Run, items: Item[]) {
	const { claims } = run;
	try {
		await Promise.all(
			unsettled(items).map(async (item) => {
				if (claims && !(await claims.take(item))) {
					if (run.stopOnFailure && item.outcome?.error) stopRun(run);
					return;
				}
				if (run.options.rehearse) {
					// Nothing is sent, and no claim was made to answer.
					item.outcome = { wouldFire: item.input as FireInput };
					return;
				}
				try {
					item.outcome = await fireOne(run, item);
				} finally {
					claims?.answered(item);
				}
				noteProgress(run, items);
			}),
		);
	} finally {
		await claims?.close();
	}
}
