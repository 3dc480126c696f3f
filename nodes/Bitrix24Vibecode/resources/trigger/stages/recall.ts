import { fireOutcome } from '../fireAnswer';
import type { Item } from '../item';
import { recall } from '../ledger';
import type { Run } from '../run';

/**
 * The recall stage: what an earlier try of the run (Retry On Fail, an AI tool's retries) did with
 * an item's fire is its outcome, and it is not sent again. In "Stop" mode a failure among them
 * ends this try before it sends.
 */
export function recallEarlierTries(run: Run, items: Item[]) {
	for (const item of items) {
		const known = item.key && recall(run.tries, item.key);
		if (known) item.outcome = fireOutcome(run, item, known);
	}
}
