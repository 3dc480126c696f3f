import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, IN8nHttpFullResponse } from 'n8n-workflow';

import { readOptions } from '../../nodes/Bitrix24Vibecode/options';
import { retryPolicy, turnOf } from '../../nodes/Bitrix24Vibecode/transport/policy';
import { Pacer } from '../../nodes/Bitrix24Vibecode/transport/pacer';
import { send, type Sent } from '../../nodes/Bitrix24Vibecode/transport/request';
import { eventClock } from '../harness/eventClock';
import { PortalBucket } from '../sandbox/portal';
import { RateLimiter, rateLimitHeaders } from '../sandbox/rate-limit';
import { NODE } from './support';

// Issue 18, on virtual time: the node paces each key at what the gateway says (X-RateLimit-*),
// processes sharing a key stay under it together, and a struggling portal makes it back off.
// Oracles, from the issue: with default options a key of 60 or 600 per minute is used at its
// rate and never refused; three processes firing 100 each on one key get ≤ 1 % 429 answers
// and finish within 1.1 × the key's floor (N ÷ its rate); behind a portal that drains 2
// requests per second with a burst of 20, 120 fires end with at most 3 "may have fired", every
// other record fired once, within 1.3 × the portal's floor. Each process is a Pacer of its own
// (as each n8n process has one per key) sending through the real `send`, to the sandbox's
// gateway model (its key window in each reading of X-RateLimit-Reset, its portal bucket
// answering 502 BITRIX_UNAVAILABLE without applying the fire), all on one virtual clock.

/** Virtual time for many sleepers (the harness's event clock), `phase` ms past a whole minute (where a fixed window of the gateway starts). */
function clockAt(windowMs = 60_000, phase = 0) {
	// An epoch time, as the gateway's X-RateLimit-Reset is epoch seconds. No HTTP here: the clock
	// moves once every pacer and the gateway sleep.
	return eventClock({ start: Date.UTC(2026, 10, 29) + phase, windowMs, onMove: () => undefined });
}
type EventClock = ReturnType<typeof clockAt>;

interface GatewayOptions {
	/** The key's limit per window. */
	limit: number | (() => number);
	/** The window: a minute, as Vibecode's; shorter in the sandbox's compressed runs. */
	windowMs?: number;
	latencyMs?: number;
	/** Bitrix24's leaky bucket behind the gateway. */
	portal?: { drainPerSecond: number; burst: number };
	/** A portal that queues before it refuses: answers take this much longer once its bucket is this full. */
	slowAbove?: { level: number; extraMs: number };
	/** What X-RateLimit-Reset holds (test/sandbox/rate-limit.js): when the oldest leaves a sliding window, the end of a fixed one, or 0 while there is room. */
	reset?: 'oldest' | 'window' | 'zero';
}

/**
 * One key on the sandbox's gateway, and the portal behind it: the sandbox's own key window and
 * portal bucket (test/sandbox/rate-limit.js, portal.js) and its answers (429 RATE_LIMITED with
 * Retry-After, 502 BITRIX_UNAVAILABLE), in this process, so that answers take virtual time.
 */
function gateway(clock: EventClock, options: GatewayOptions) {
	const limiter = new RateLimiter({ limit: 1, windowMs: options.windowMs ?? 60_000, reset: options.reset ?? 'oldest' });
	const portal = new PortalBucket(options.portal ?? false);
	const stats = { fires: new Map<unknown, number>(), refused429: 0, unavailable502: 0, requests: 0 };
	const limitNow = () => (typeof options.limit === 'function' ? options.limit() : options.limit);
	async function http(_credentialType: string, request: IHttpRequestOptions): Promise<IN8nHttpFullResponse> {
		const now = clock.now();
		stats.requests++;
		const window = limiter.take('key', limitNow(), now);
		// n8n hands headers lower-cased.
		const headers: IDataObject = Object.fromEntries(Object.entries(rateLimitHeaders(window)).map(([name, value]) => [name.toLowerCase(), value]));
		let answer: IN8nHttpFullResponse;
		let latency = options.latencyMs ?? 50;
		if (!window.allowed) {
			stats.refused429++;
			const { retryAfter } = window;
			answer = {
				statusCode: 429,
				headers: { ...headers, 'retry-after': String(retryAfter) },
				body: { success: false, error: { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', retryAfter } },
			};
		} else if (!portal.take(now)) {
			stats.unavailable502++;
			answer = { statusCode: 502, headers, body: { success: false, error: { code: 'BITRIX_UNAVAILABLE', message: 'Портал Bitrix24 недоступен' } } };
		} else {
			if (options.slowAbove && portal.level > options.slowAbove.level) latency += options.slowAbove.extraMs;
			const id = (request.body as IDataObject).entityId;
			stats.fires.set(id, (stats.fires.get(id) ?? 0) + 1);
			answer = { statusCode: 200, headers, body: { success: true, data: true } };
		}
		await clock.sleep(latency);
		return answer;
	}
	return { http, stats };
}

/** An n8n process with its own pacer for the key, firing `ids` in one run with the given options. */
async function process(clock: EventClock, http: ReturnType<typeof gateway>['http'], ids: number[], raw: IDataObject = {}): Promise<Sent[]> {
	const options = readOptions(NODE, 0, raw);
	const pacer = new Pacer(clock);
	const owner = {};
	const context = { helpers: { httpRequestWithAuthentication: http } } as unknown as IExecuteFunctions;
	const paced = { pacer, turn: turnOf(options, owner) };
	const policy = retryPolicy(options, { write: true });
	return await Promise.all(
		ids.map(async (entityId) => await send.call(context, paced, { method: 'POST', url: '/v1/triggers/fire', body: { entityId } }, policy)),
	);
}

const ids = (count: number, from = 1) => Array.from({ length: count }, (_, i) => from + i);
const mayHaveFired = (sent: Sent[]) => sent.filter((s) => s.failure?.code === 'BITRIX_UNAVAILABLE').length;
const failed = (sent: Sent[]) => sent.filter((s) => s.failure).length;

describe("the key's limit, read from its answers (default options)", () => {
	test.each([
		[600, 200],
		[60, 90],
		[300, 150],
	])('a key of %p per minute: %p fires at its rate, none refused, within 1.05 × the floor', async (limit, count) => {
		const clock = clockAt();
		const api = gateway(clock, { limit });
		const sent = await clock.runUntil(process(clock, api.http, ids(count)));

		const floorMs = (count / limit) * 60_000;
		expect(failed(sent)).toBe(0);
		expect(api.stats.refused429).toBe(0);
		expect([...api.stats.fires.values()].every((n) => n === 1)).toBe(true);
		expect(api.stats.fires.size).toBe(count);
		expect(clock.elapsed()).toBeLessThanOrEqual(floorMs * 1.05);
	});

	test('a limit that changes during a run is followed: lowered from 600 to 120 per minute, nothing fails', async () => {
		const clock = clockAt();
		const api = gateway(clock, { limit: () => (clock.elapsed() < 10_000 ? 600 : 120) });
		const sent = await clock.runUntil(process(clock, api.http, ids(200)));

		expect(failed(sent)).toBe(0);
		expect(api.stats.refused429).toBeLessThanOrEqual(2);
		// Before the change ~100 went out at 10 per second; the rest go at 2 per second.
		expect(clock.elapsed()).toBeGreaterThan(60_000);
	});

	test('a window compressed for tests (30 per 6 s), given through the clock: 150 fires at its rate', async () => {
		const clock = clockAt(6_000);
		const api = gateway(clock, { limit: 30, windowMs: 6_000 });
		const sent = await clock.runUntil(process(clock, api.http, ids(150)));

		expect(failed(sent)).toBe(0);
		expect(api.stats.refused429).toBe(0);
		expect(clock.elapsed()).toBeLessThanOrEqual((150 / 5) * 1000 * 1.05);
	});
});

describe('processes sharing a key stay under it together', () => {
	test.each([
		[120, 3, 100],
		[300, 3, 200],
		[60, 2, 60],
	])('a key of %p per minute, %p processes firing %p each at once: ≤ 1 %% refused, within 1.1 × the floor', async (limit, processes, each) => {
		const clock = clockAt();
		const api = gateway(clock, { limit });
		const all = await clock.runUntil(Promise.all(Array.from({ length: processes }, (_, p) => process(clock, api.http, ids(each, 1 + p * each)))));

		const total = processes * each;
		expect(all.flat().filter((s) => s.failure)).toEqual([]);
		expect(api.stats.fires.size).toBe(total);
		expect(api.stats.refused429 / api.stats.requests).toBeLessThanOrEqual(0.01);
		expect(clock.elapsed()).toBeLessThanOrEqual((total / limit) * 60_000 * 1.1);
	});
});

describe('whatever X-RateLimit-Reset holds (issue 23), processes sharing a key stay under it together', () => {
	test.each([
		['oldest', 0],
		['zero', 0],
		['window', 0],
		['window', 20_000],
		['window', 45_000],
		['window', 59_000],
	] as const)('Reset %s, %p ms into a minute: 3 processes firing 100 each on a key of 150 per minute, ≤ 1 %% refused, within 1.1 × the floor', async (reset, phase) => {
		const clock = clockAt(60_000, phase);
		const api = gateway(clock, { limit: 150, reset });
		const all = await clock.runUntil(Promise.all(Array.from({ length: 3 }, (_, p) => process(clock, api.http, ids(100, 1 + p * 100)))));

		expect(all.flat().filter((s) => s.failure)).toEqual([]);
		expect(api.stats.fires.size).toBe(300);
		expect(api.stats.refused429 / api.stats.requests).toBeLessThanOrEqual(0.01);
		expect(clock.elapsed()).toBeLessThanOrEqual((300 / 150) * 60_000 * 1.1);
	});
});

describe('a struggling portal: back off, then speed up carefully', () => {
	test('a portal draining 2 per second (burst 20) behind a key of 300 per minute: 120 fires, ≤ 3 "may have fired", the rest once, within 1.3 × its floor', async () => {
		const clock = clockAt();
		const api = gateway(clock, { limit: 300, portal: { drainPerSecond: 2, burst: 20 } });
		const sent = await clock.runUntil(process(clock, api.http, ids(120)));

		expect(mayHaveFired(sent)).toBeLessThanOrEqual(3);
		expect(failed(sent)).toBe(mayHaveFired(sent));
		expect(api.stats.fires.size).toBe(120 - mayHaveFired(sent));
		expect([...api.stats.fires.values()].every((n) => n === 1)).toBe(true);
		expect(clock.elapsed()).toBeLessThanOrEqual((120 / 2) * 1000 * 1.3);
	});

	test('answers slowing sharply make the key slow down before the portal refuses anything', async () => {
		const clock = clockAt();
		const api = gateway(clock, { limit: 300, portal: { drainPerSecond: 2, burst: 40 }, slowAbove: { level: 20, extraMs: 3_000 } });
		// Enough in flight that slow answers alone would not hold the pace back.
		const sent = await clock.runUntil(process(clock, api.http, ids(120), { maxConcurrent: 20 }));

		expect(mayHaveFired(sent)).toBe(0);
		expect(api.stats.fires.size).toBe(120);
	});

	test('an ambiguous fire is never resent by the back-off', async () => {
		const clock = clockAt();
		const api = gateway(clock, { limit: 300, portal: { drainPerSecond: 1, burst: 5 } });
		await clock.runUntil(process(clock, api.http, ids(30)));

		expect(api.stats.requests).toBe(30);
	});
});
