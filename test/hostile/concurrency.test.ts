import { fireAt, useSandbox } from '../sandboxRun';
import { firedTwice, freshKey, ids, mostInWindow, outcomes } from './support';

// 30 per 3 s is 600 a minute, compressed; the node is told the same rate.
const LIMIT = { limit: 30, windowMs: 3_000 };
const box = useSandbox({ rateLimit: LIMIT });
// Two executions alone hold more items than one window allows.
const PER_EXECUTION = 20;

describe('Executions at once with the same key', () => {
	test.each([2, 4])('%i executions share the key\'s limit and lose nothing', async (executions) => {
		const apiKey = freshKey(box.sandbox);
		const batches = Array.from({ length: executions }, (_, run) => ids(PER_EXECUTION, run * 1000 + 1));

		const results = await Promise.all(
			batches.map((items) =>
				fireAt(box.sandbox, items, { apiKey, options: { requestsPerMinute: 600 }, onError: 'continueErrorOutput' }),
			),
		);

		results.forEach((result, run) => {
			const seen = outcomes(result, PER_EXECUTION);
			expect(seen.map((o) => o.ok?.[0].json.entityId)).toEqual(batches[run].map(({ id }) => id));
		});
		const everyId = batches.flat().map(({ id }) => id);
		expect(box.sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b)).toEqual(everyId);
		expect(firedTwice(box.sandbox)).toEqual([]);
		// The pace keeps arrivals under the limit; compressed to 3 s, the window leaves the pace
		// only 60 ms for network jitter, so a loaded machine may see the odd refusal (retried
		// safely), never more than the 5 % the benchmark allows.
		const refused = box.sandbox.requests.filter((r) => r.status === 429);
		expect(refused.length).toBeLessThanOrEqual(Math.floor(0.05 * executions * PER_EXECUTION));
		const arrivals = box.sandbox.requests.filter((r) => r.status !== 429).map((r) => r.at);
		expect(mostInWindow(arrivals, LIMIT.windowMs)).toBeLessThanOrEqual(LIMIT.limit);
	}, 30_000);
});
