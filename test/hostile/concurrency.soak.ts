import { useCompressedWindow } from '../harness/virtualClock';
import { fireAt, useSandbox } from '../sandboxRun';
import { firedTwice, freshKey, ids, outcomes } from './support';

// 30 per 3 s is 600 a minute, compressed; the node is told the same rate.
const LIMIT = { limit: 30, windowMs: 3_000 };
useCompressedWindow(LIMIT.windowMs);
const box = useSandbox({ rateLimit: LIMIT });
// Two executions alone hold more items than one window allows.
const PER_EXECUTION = 20;

describe('Executions at once with the same key', () => {
	test.each([2, 4])('%i executions share the key\'s limit and lose nothing', async (executions) => {
		const apiKey = freshKey(box.sandbox);
		const batches = Array.from({ length: executions }, (_, run) => ids(PER_EXECUTION, run * 1000 + 1));

		const results = await Promise.all(
			batches.map((items) =>
				fireAt(box.sandbox, items, {
					apiKey,
					options: { requestsPerMinute: 600, maxRateLimitRetries: 20 },
					onError: 'continueErrorOutput',
				}),
			),
		);

		results.forEach((result, run) => {
			const seen = outcomes(result, PER_EXECUTION);
			expect(seen.map((o) => o.ok?.[0].json.entityId)).toEqual(batches[run].map(({ id }) => id));
		});
		const everyId = batches.flat().map(({ id }) => id);
		expect(box.sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b)).toEqual(everyId);
		expect(firedTwice(box.sandbox)).toEqual([]);
		// How many arrivals the gateway refused (429, retried safely) is the bench's to measure:
		// on a busy machine the odd refusal is jitter, not a fault.
	}, 60_000);
});
