import type { IDataObject } from 'n8n-workflow';

import { apiError } from './helpers';
import type { RunResult } from './harness/runWorkflow';
import { useEventClock } from './harness/virtualClock';
import { freshKey } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

// The commonest load: a webhook per event, each execution firing one deal with the default
// options (the record check reads the stage before, the stage report reads it after). Executions
// running in one n8n process on one key share their searches while they wait, so that a steady
// stream stays under what a standard Bitrix24 portal drains (2 calls a second, bursts of 50),
// here on the event clock: Vibecode's default key (300 a minute, a 60 s window) and that portal.
const clock = useEventClock({ start: Date.UTC(2026, 11, 6, 12, 0, 0) });
const box = useSandbox({ rateLimit: { limit: 300, windowMs: 60_000 }, portal: { drainPerSecond: 2, burst: 50 } });

type Answered = { deal: number; result: RunResult; ms: number };

/** Searches sent with `apiKey`'s key (all keys when omitted), with the IDs each asked about. */
const searchesOf = (sandbox: Sandbox, keyId?: string) =>
	sandbox.requests
		.filter((r) => /^\/v1\/\w+\/search$/.test(r.path) && (keyId === undefined || r.apiKeyId === keyId))
		.map((r) => ({ ...r, ids: (r.body as { filter: { id: { $in: number[] } } }).filter.id.$in }));
const firesOf = (sandbox: Sandbox, deal: number) => sandbox.fires.filter((f) => Number(f.entityId) === deal).length;
const keyIdOf = (apiKey: string) => apiKey.replace(/^vibe_(api|app)_/, '');
const percentile95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(0.95 * values.length)];

/**
 * `count` one-deal executions, one every `everyMs` of virtual time, each started on time whether
 * the earlier ones have answered or not (as a webhook's sender does); resolves with them all.
 */
async function stream({
	count,
	everyMs,
	from,
	apiKey,
	options = {},
	before,
}: {
	count: number;
	everyMs: number;
	from: number;
	apiKey: (i: number) => string;
	options?: IDataObject;
	/** Called as the i-th execution starts. */
	before?: (i: number) => void;
}) {
	const runs: Array<Promise<Answered>> = [];
	for (let i = 0; i < count; i++) {
		before?.(i);
		const startedAt = clock.at;
		const deal = from + i;
		runs.push(
			fireAt(box.sandbox, [{ id: deal }], { apiKey: apiKey(i), options, onError: 'continueErrorOutput' }).then((result) => ({ deal, result, ms: clock.at - startedAt })),
		);
		await clock.runUntil(clock.after(everyMs));
	}
	return await clock.runUntil(Promise.all(runs));
}

describe('searches of different executions on one key', () => {
	test('a stream of 1.2 executions a second for a minute: every deal fired once with its own stages, at most 1.6 requests a fire, none refused', async () => {
		const apiKey = freshKey(box.sandbox);
		const answered = await stream({ count: 72, everyMs: 833, from: 20_001, apiKey: () => apiKey });

		for (const { deal, result } of answered) {
			expect(result.errors).toEqual([]);
			expect(result.main.map((item) => item.json)).toEqual([
				// Each execution its own deal, with the stage the sandbox moved it to (unseeded deals start at NEW).
				expect.objectContaining({ success: true, entityId: deal, stageBefore: 'NEW', stageAfter: box.sandbox.stageOf('deal', deal), moved: true }),
			]);
			expect(firesOf(box.sandbox, deal)).toBe(1);
		}
		const searches = searchesOf(box.sandbox);
		// Two reads an execution, asked 144 times; far fewer searches, some asking for several executions.
		expect(searches.length).toBeLessThan(72);
		expect(Math.max(...searches.map((search) => search.ids.length))).toBeGreaterThan(1);
		expect(searches.flatMap((search) => search.ids).sort()).toEqual(answered.flatMap(({ deal }) => [deal, deal]).sort());
		expect(box.sandbox.requests.length / box.sandbox.fires.length).toBeLessThanOrEqual(1.6);
		expect(box.sandbox.portalRefusals).toBe(0);
		expect(percentile95(answered.map(({ ms }) => ms))).toBeLessThanOrEqual(5000);
	}, 60_000);

	test('at 1.8 executions a second, 90 % of the portal, for three minutes: none fired twice or refused, answers within 15 s and not falling behind', async () => {
		const apiKey = freshKey(box.sandbox);
		const answered = await stream({ count: 324, everyMs: 556, from: 26_001, apiKey: () => apiKey });

		for (const { deal } of answered) expect(firesOf(box.sandbox, deal)).toBeLessThanOrEqual(1);
		const settled = answered.filter(({ result }) => result.main.length === 1 && result.main[0].json.moved === true);
		expect(answered.length - settled.length).toBeLessThanOrEqual(Math.floor((3 * 324) / 200));
		const ms = answered.map((answer) => answer.ms);
		expect(percentile95(ms)).toBeLessThanOrEqual(15_000);
		// The last minute's executions wait no longer than the first minute's, give or take a second.
		expect(percentile95(ms.slice(-108))).toBeLessThanOrEqual(percentile95(ms.slice(0, 108)) + 1000);
		expect(box.sandbox.portalRefusals).toBe(0);
	}, 60_000);

	test('a single execution after an idle minute waits for nobody: its reads go at once', async () => {
		const apiKey = freshKey(box.sandbox);
		await stream({ count: 10, everyMs: 500, from: 21_001, apiKey: () => apiKey });
		await clock.runUntil(clock.after(60_000));
		box.sandbox.reset();

		const [{ result, ms }] = await stream({ count: 1, everyMs: 0, from: 21_101, apiKey: () => apiKey });

		expect(result.main.map((item) => item.json.moved)).toEqual([true]);
		expect(box.sandbox.requests.map((r) => r.path)).toEqual(['/v1/deals/search', '/v1/triggers/fire', '/v1/deals/search']);
		// Three requests spaced at the key's pace (300 a minute: a fifth of a second, with its margin);
		// a search that waited for company would wait at least 1/1.8 s more.
		expect(ms).toBeLessThan(550);
	}, 60_000);

	test('a bulk run alone on its key never waits for company: 120 deals, six searches, no wait', async () => {
		// An Enterprise-sized portal's burst: the run's 126 requests go at once.
		box.sandbox.setPortal({ drainPerSecond: 5, burst: 250 });
		const apiKey = freshKey(box.sandbox, { limit: 600_000 });
		const waitsBefore = clock.sleeps.length;
		const result = await clock.runUntil(
			fireAt(box.sandbox, Array.from({ length: 120 }, (_, i) => ({ id: 25_001 + i })), { apiKey, options: { requestsPerMinute: 600_000, maxConcurrent: 20 } }),
		);

		expect(result.main.map((item) => item.json.moved)).toEqual(Array(120).fill(true));
		expect(searchesOf(box.sandbox).map((search) => search.ids.length)).toEqual([50, 50, 20, 50, 50, 20]);
		// Its 126 requests at its key's limit and its cap, 10,000 a second: no wait of even a millisecond.
		expect(clock.sleeps.slice(waitsBefore)).toEqual([]);
		box.sandbox.setPortal({ drainPerSecond: 2, burst: 50 });
	}, 60_000);

	test('a shared search that fails: the executions it served say their stage is unknown; every deal is fired once, none twice', async () => {
		const apiKey = freshKey(box.sandbox);
		// Once the stream runs, the next search, by then one that several executions wait for, is refused for good.
		const refuse = () =>
			box.sandbox.injectFault({ kind: 'error', status: 403, body: apiError('BITRIX_ACCESS_DENIED', 'Access denied'), match: { path: '/v1/deals/search' } });
		const answered = await stream({ count: 30, everyMs: 500, from: 22_001, apiKey: () => apiKey, before: (i) => i === 16 && refuse() });

		const failed = searchesOf(box.sandbox).filter((search) => search.status === 403);
		expect(failed).toHaveLength(1);
		expect(failed[0].ids.length).toBeGreaterThan(1);
		for (const { deal, result } of answered) {
			expect(firesOf(box.sandbox, deal)).toBe(1);
			expect(result.errors).toEqual([]);
			const { stageBefore, stageAfter, moved } = result.main[0].json;
			if (failed[0].ids.includes(deal)) {
				// What the failed search was to read is unknown; the other read of the deal is not.
				expect([stageBefore, stageAfter].filter((stage) => stage === null)).toHaveLength(1);
				expect(moved).toBeNull();
			} else {
				expect({ stageBefore, stageAfter, moved }).toEqual({ stageBefore: 'NEW', stageAfter: box.sandbox.stageOf('deal', deal), moved: true });
			}
		}
	}, 60_000);

	test('two keys never share a search, nor two entity types', async () => {
		const keys = [freshKey(box.sandbox), freshKey(box.sandbox)];
		const answered = await stream({ count: 40, everyMs: 250, from: 23_001, apiKey: (i) => keys[i % 2] });

		for (const [index, apiKey] of keys.entries()) {
			const own = answered.filter((_, i) => i % 2 === index).map(({ deal }) => deal);
			const searches = searchesOf(box.sandbox, keyIdOf(apiKey));
			expect(searches.flatMap((search) => search.ids).sort()).toEqual([...own, ...own].sort());
			// Shared all the same, within the key.
			expect(searches.length).toBeLessThan(2 * own.length);
		}
		for (const { result } of answered) expect(result.main.map((item) => item.json.moved)).toEqual([true]);

		box.sandbox.reset();
		const apiKey = freshKey(box.sandbox);
		const lead = fireAt(box.sandbox, [{ id: 301 }], { apiKey, entityType: 'lead', options: {} });
		await stream({ count: 20, everyMs: 250, from: 24_001, apiKey: () => apiKey });
		expect((await clock.runUntil(lead)).main.map((item) => item.json)).toEqual([expect.objectContaining({ entityType: 'lead', entityId: 301, moved: true })]);
		const leadSearches = searchesOf(box.sandbox).filter((search) => search.path === '/v1/leads/search');
		expect(leadSearches.flatMap((search) => search.ids)).toEqual([301, 301]);
	}, 60_000);
});
