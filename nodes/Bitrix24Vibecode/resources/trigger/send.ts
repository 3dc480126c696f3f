import { isAmbiguous } from '../../transport/failure';
import { TurnCancelled } from '../../transport/pacer';
import { send, type Sent } from '../../transport/request';
import { apiError, asNodeError, cancelledError } from './errors';
import type { FireInput } from './fireInput';
import { failed, type Item, type Outcome } from './item';
import { atMostOnce, recall } from './ledger';
import { retryPolicy, type Run } from './run';
import { closestCodesText, forgetTriggerList, type Registered } from './triggerCodes';

// The fire stage of Fire Trigger's run: one item's fire, through the at-most-once ledger and the
// key's pace, and what its answer means.

/** Where a fire goes. */
const FIRE: { method: 'POST'; url: string } = { method: 'POST', url: '/v1/triggers/fire' };

/** What an answer means for an item; a refused code names the registered ones when the run knows them. */
function outcomeOf(run: Run, item: Item, sent: Sent, registered?: Registered[]): Outcome {
	if (!sent.failure) return { fired: item.input as FireInput };
	const error = apiError(run.node, item.itemIndex, sent.failure, 'fire');
	if (sent.failure.bitrixRefusal === 'TRIGGER_NOT_REGISTERED') {
		// The list the check went by had the code: it is out of date, and the next run reads it again.
		forgetTriggerList(run);
		const code = (item.input as FireInput).triggerId;
		const others = registered?.filter((trigger) => trigger.code !== code);
		if (others) error.description = `${error.description ?? ''} ${closestCodesText(code, others)}`.trim();
	}
	return failed(error, isAmbiguous(sent.failure));
}

/** An earlier try's fires (Retry On Fail, an AI tool's retries): their outcomes, not sent again. */
export function recallEarlierTries(run: Run, items: Item[]) {
	for (const item of items) {
		const known = item.key && recall(run.tries, item.key);
		if (known) item.outcome = outcomeOf(run, item, known);
	}
}

export async function fireOne(run: Run, item: Item, registered?: Registered[]): Promise<Outcome> {
	const input = item.input as FireInput;
	try {
		if (run.stopped || run.signal?.aborted) throw new TurnCancelled();
		const request = { ...run.defaults, ...FIRE, body: input };
		const policy = retryPolicy(run.options, { write: true });
		const sent = await atMostOnce(run.tries, item.key as string, async () => await send.call(run.context, run.paced, request, policy));
		return outcomeOf(run, item, sent, registered);
	} catch (error) {
		if (!(error instanceof TurnCancelled)) throw asNodeError(run.node, item.itemIndex, error);
		return { error: cancelledError(run.node, item.itemIndex), mayHaveFired: false, notSent: true };
	}
}

