import { fireOnceUnavailableError, skippedSameKey } from '../../../errors';
import { ClaimWindow } from '../fireOnce/claiming';
import { onceStoreOf } from '../fireOnce/store';
import { failed, unsettled, type Item } from '../item';
import type { Run } from '../run';

/**
 * The claim stage, for "Fire Once Across Executions": an item whose key an earlier item of the
 * run has is skipped at once, and the run's claims open: each key is claimed just before its
 * fire (the fire stage takes it), at most twice "Max Concurrent Requests" at a time. Where n8n
 * gives the node no store, every item fails unsent.
 */
export function openClaims(run: Run, items: Item[]) {
	if (!run.options.fireOnce) return;
	const first = new Map<string, Item>();
	for (const item of unsettled(items)) {
		const earlier = first.get(item.onceKey as string);
		if (earlier) item.outcome = { skipped: skippedSameKey(earlier.itemIndex) };
		else first.set(item.onceKey as string, item);
	}
	const limit = 2 * run.options.maxConcurrent;
	const once = first.size ? onceStoreOf(run, limit) : undefined;
	if (once) run.claims = new ClaimWindow(run, once, limit);
	else for (const item of first.values()) item.outcome = failed(fireOnceUnavailableError(run.node, item.itemIndex));
}
