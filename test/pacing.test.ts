import nock from 'nock';

import { API, apiError, details, errorMessage, fire, recordFires } from './helpers';
import { fireAt, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

const box = useSandbox();
afterEach(() => {
	box.sandbox.setRateLimit(false);
	box.sandbox.setLatency(0);
	nock.cleanAll();
});

let keys = 0;
/** A key of its own per test: the pace of a key is shared by the whole process. */
function freshKey(sandbox: Sandbox) {
	const key = `vibe_api_pacing_${++keys}`;
	sandbox.addKey(key, { id: `pacing${keys}` });
	return key;
}

const fireRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers/fire');
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);
// Starts are 102 ms apart; arrivals also carry network jitter (the first one opens the connection).
const JITTER_MS = 40;
const OK = [200, { success: true, data: true }] as const;

/** Answers fire requests with these replies in turn; returns when each arrived. */
function answerInTurn(...replies: ReadonlyArray<readonly [number, object]>) {
	const times: number[] = [];
	nock(API)
		.post('/v1/triggers/fire')
		.times(replies.length)
		.reply(() => {
			const [status, body] = replies[times.length];
			times.push(Date.now());
			return [status, body];
		});
	return times;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));

describe('Pacing', () => {
	test('requests start evenly at "Requests per Minute", in input order', async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, ids(8), { apiKey, options: { requestsPerMinute: 600 } });

		expect(result.main).toHaveLength(8);
		const arrivals = fireRequests(box.sandbox);
		expect(arrivals.map((r) => (r.body as { entityId: number }).entityId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		// 600 per minute is one per 100 ms; the node keeps a small margin under it.
		const times = arrivals.map((r) => r.at);
		for (const gap of gaps(times)) expect(gap).toBeGreaterThanOrEqual(100 - JITTER_MS);
		expect(times[7] - times[0]).toBeGreaterThanOrEqual(7 * 100 - JITTER_MS);
		expect(times[7] - times[0]).toBeLessThan(7 * 102 + 150);
	});

	test('at most "Max Concurrent Requests" wait for an answer at once', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.setLatency(150);
		await fireAt(box.sandbox, ids(9), { apiKey, options: { requestsPerMinute: 1e6, maxConcurrent: 3 } });

		const spans = fireRequests(box.sandbox).map((r) => [r.at, r.endAt ?? Infinity] as const);
		const mostAtOnce = Math.max(...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
		expect(mostAtOnce).toBe(3);
	});

	test('two executions with the same key share one pace', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { requestsPerMinute: 600 };
		await Promise.all([
			fireAt(box.sandbox, ids(4), { apiKey, options }),
			fireAt(box.sandbox, ids(4).map(({ id }) => ({ id: id + 100 })), { apiKey, options }),
		]);

		const arrivals = fireRequests(box.sandbox).map((r) => r.at);
		expect(arrivals).toHaveLength(8);
		for (const gap of gaps(arrivals)) expect(gap).toBeGreaterThanOrEqual(100 - JITTER_MS);
		expect(arrivals[7] - arrivals[0]).toBeGreaterThanOrEqual(7 * 100 - JITTER_MS);
	});
	test('a run that starts later is not stuck behind a bulk run on the same key', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { requestsPerMinute: 600 };
		const bulk = fireAt(box.sandbox, ids(10), { apiKey, options });
		await new Promise((resolve) => setTimeout(resolve, 150));
		await Promise.all([bulk, fireAt(box.sandbox, [{ id: 999 }], { apiKey, options })]);

		const order = fireRequests(box.sandbox).map((r) => (r.body as { entityId: number }).entityId);
		expect(order.filter((id) => id !== 999)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
		// Runs take turns: the late run's item goes within a turn or two, not after all ten.
		expect(order.indexOf(999)).toBeLessThanOrEqual(4);
	});
});

describe('Rate limit (429)', () => {
	test('waits the Retry-After the gateway asks for, then every item is delivered exactly once', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.setRateLimit({ limit: 3, windowMs: 1000 });
		const result = await fireAt(box.sandbox, ids(5), {
			apiKey,
			options: { requestsPerMinute: 1e6 },
			onError: 'continueErrorOutput',
		});

		expect(result.errors).toEqual([]);
		expect(result.main.map((item) => item.json.entityId)).toEqual([1, 2, 3, 4, 5]);
		expect(box.sandbox.fires.map((f) => f.entityId).sort()).toEqual([1, 2, 3, 4, 5]);
		const requests = fireRequests(box.sandbox);
		const firstRefusal = requests.find((r) => r.status === 429)!;
		const retried = requests.filter((r) => r.status === 200 && r.at > firstRefusal.at);
		// Retry-After is whole seconds: nothing is sent again before it has passed.
		for (const r of retried) expect(r.at - firstRefusal.at).toBeGreaterThanOrEqual(990);
	}, 15_000);

	test('waits retryAfter from the body when there is no header', async () => {
		const times = answerInTurn([429, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 1 })], OK);
		const result = await fire([{ id: 1 }], { options: { requestsPerMinute: 1e6 } });

		expect(result.main[0].json.success).toBe(true);
		expect(times[1] - times[0]).toBeGreaterThanOrEqual(990);
	});

	test('backs off on its own when the gateway names no wait', async () => {
		const refused = [429, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED')] as const;
		const times = answerInTurn(refused, refused, OK);
		const result = await fire([{ id: 1 }], { options: { requestsPerMinute: 1e6 } });

		expect(result.main[0].json.success).toBe(true);
		// Exponential with jitter: 0.5–1 s, then 1–2 s.
		expect(times[1] - times[0]).toBeGreaterThanOrEqual(490);
		expect(times[2] - times[1]).toBeGreaterThanOrEqual(990);
	});

	test('gives up after "Max Retries on Rate Limit" with the mapped 429 error', async () => {
		const api = recordFires(() => [429, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 0 })]);
		const result = await fire([{ id: 1 }], {
			options: { requestsPerMinute: 1e6, maxRateLimitRetries: 2 },
			onError: 'continueErrorOutput',
		});

		expect(api.bodies).toHaveLength(3);
		expect(errorMessage(result.errors[0])).toBe('Too many requests for this API key');
		expect(details(result.errors[0])).toMatchObject({ code: 'RATE_LIMITED', httpCode: 429 });
	});
});

describe('Accounting', () => {
	test('with the error output, every item ends exactly once and no fire is doubled', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.setRateLimit({ limit: 10, windowMs: 500 });
		box.sandbox.setRandomFaults({ seed: 7, rate: 0.2, apply: 0.5, match: { path: '/v1/triggers/fire' } });
		const items = ids(60);
		const result = await fireAt(box.sandbox, items, {
			apiKey,
			options: { requestsPerMinute: 1e6, maxConcurrent: 10 },
			onError: 'continueErrorOutput',
		});
		box.sandbox.setRandomFaults(null);

		const succeeded = result.main.map((item) => item.json.entityId as number);
		const failed = result.errors.map((item) => details(item).entityId as number);
		expect([...succeeded, ...failed].sort((a, b) => a - b)).toEqual(items.map(({ id }) => id));
		const fired = box.sandbox.fires.map((f) => Number(f.entityId));
		expect(new Set(fired).size).toBe(fired.length);
		for (const id of succeeded) expect(fired).toContain(id);
		expect(result.errors.length).toBeGreaterThan(0);
	}, 30_000);
});

test('the options shown in the editor default to the pace the node uses', async () => {
	const { loadPackage } = await import('./harness/loadPackage');
	const { DEFAULT_PACING } = await import('../nodes/Bitrix24Vibecode/transport/request');
	const { nodeType } = await loadPackage();
	const options = nodeType.description.properties.find((p) => p.name === 'options')!;
	const defaults = Object.fromEntries(
		(options.options as Array<{ name: string; default: unknown }>).map((o) => [o.name, o.default]),
	);
	expect(defaults).toEqual(DEFAULT_PACING);
});
