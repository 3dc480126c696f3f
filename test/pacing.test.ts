import { apiError, details, errorMessage } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { fireAt, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

// How long pacing takes in real time is measured by `npm run bench`; here the pacer's clock is
// virtual, so every wait is asserted exactly and no test depends on how busy the machine is.
const clock = useVirtualClock();
const box = useSandbox();
afterEach(() => box.sandbox.setRateLimit(false));

let keys = 0;
/** A key of its own per test: the pace of a key is shared by the whole process. */
function freshKey(sandbox: Sandbox) {
	const key = `vibe_api_pacing_${++keys}`;
	sandbox.addKey(key, { id: `pacing${keys}` });
	return key;
}

const fireRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers/fire');
const entityIds = (sandbox: Sandbox) => fireRequests(sandbox).map((r) => (r.body as { entityId: number }).entityId);

/** The sandbox answers the next fire (of `entityId`, when given) with a 429: this body, and these headers besides the Retry-After its retryAfter gives (null leaves it out). */
function refuse(sandbox: Sandbox, body: object, { times = 1, entityId, headers }: { times?: number; entityId?: number; headers?: Record<string, string | null> } = {}) {
	sandbox.injectFault({ kind: 'error', status: 429, body, headers, times, match: { path: '/v1/triggers/fire', entityId } });
}
/** Virtual time the key was held: with no limit on the sandbox and a pace of a million a minute, only a 429's wait holds it. */
const held = () => clock.sleeps.reduce((a, b) => a + b, 0);

const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));

describe('Pacing', () => {
	test('the pace waits exactly the interval "Requests per Minute" gives, plus a 2 % margin', async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, ids(8), { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 600, maxConcurrent: 1 } });

		expect(result.main).toHaveLength(8);
		expect(entityIds(box.sandbox)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		// 600 a minute is one start per 100 ms; with the margin, 102 ms between starts.
		expect(clock.sleeps).toEqual(Array(7).fill(102));
	});

	test('two executions with the same key share one pace', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { checkRecords: false, reportStageChange: false, requestsPerMinute: 600 };
		await Promise.all([
			fireAt(box.sandbox, ids(4), { apiKey, options }),
			fireAt(box.sandbox, ids(4).map(({ id }) => ({ id: id + 100 })), { apiKey, options }),
		]);

		expect(entityIds(box.sandbox).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 101, 102, 103, 104]);
		// Eight starts on one key: seven intervals in all, whichever run each start belonged to.
		expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(7 * 102);
	});

	test("others' use of the key takes its share of the key, not of the cap: a run capped at 300 a minute on a key of 6,000 keeps 5 a second while another process's 49 fires are in the key's minute", async () => {
		// Oracle: issue 34 point 3 — the queue-mode redelivery after a killed worker: the worker
		// that runs it finds the killed one's fires counted in the key's minute.
		const apiKey = `vibe_api_pacing_${++keys}`;
		box.sandbox.addKey(apiKey, { id: `pacing${keys}`, limit: 6_000 });
		box.sandbox.setRateLimit({ limit: 300, windowMs: 60_000 }); // the key's own limit (6,000) overrides it
		for (let i = 0; i < 49; i++) {
			const answer = await fetch(`${box.sandbox.url}/v1/triggers/fire`, {
				method: 'POST',
				headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json' },
				body: JSON.stringify({ triggerId: 'payment_received', entityType: 'deal', entityId: 9_000 + i }),
			});
			expect(answer.status).toBe(200);
		}
		const result = await fireAt(box.sandbox, ids(8), { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 300, maxConcurrent: 1 } });

		expect(result.main.map((item) => item.json.success)).toEqual(Array(8).fill(true));
		// 300 a minute with the 2 % margin: 204 ms between starts, none longer (a share of the cap was 1.2 s).
		expect(clock.sleeps).toEqual(Array(7).fill(204));
	});
});

describe('Rate limit (429)', () => {
	test('waits the Retry-After the gateway asks for, then every item is delivered exactly once', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED'), { entityId: 2, headers: { 'Retry-After': '3' } });
		const result = await fireAt(box.sandbox, ids(3), { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6, maxConcurrent: 1 } });

		expect(result.main.map((item) => item.json.entityId)).toEqual([1, 2, 3]);
		expect(entityIds(box.sandbox)).toEqual([1, 2, 2, 3]);
		// The only wait: between the 429 and its resend.
		expect(held()).toBe(3_000);
	});

	test('waits retryAfter from the body when there is no header', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 2 }), { headers: { 'Retry-After': null } });
		const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6 } });

		expect(result.main[0].json.success).toBe(true);
		expect(entityIds(box.sandbox)).toEqual([1, 1]);
		expect(fireRequests(box.sandbox)[0].status).toBe(429);
		// The only wait: between the 429 and its resend.
		expect(held()).toBe(2_000);
	});

	test('backs off on its own when the gateway names no wait: 0.5–1 s, then 1–2 s', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED'), { times: 2 });
		const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6 } });

		expect(result.main[0].json.success).toBe(true);
		expect(entityIds(box.sandbox)).toEqual([1, 1, 1]);
		// The key is held in naps of a second at most: the first back-off is the first nap, the second the rest.
		const [first, ...second] = clock.sleeps;
		expect(first).toBeGreaterThanOrEqual(500);
		expect(first).toBeLessThanOrEqual(1_000);
		expect(held() - first).toBeGreaterThanOrEqual(1_000);
		expect(held() - first).toBeLessThanOrEqual(2_000);
		expect(second.length).toBeGreaterThan(0);
	});

	test('gives up after "Max Retries on Rate Limit" with the mapped 429 error', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 0 }), { times: Infinity });
		const result = await fireAt(box.sandbox, [{ id: 1 }], {
			apiKey,
			options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6, maxRateLimitRetries: 2 },
			onError: 'continueErrorOutput',
		});

		expect(fireRequests(box.sandbox)).toHaveLength(3);
		expect(errorMessage(result.errors[0])).toBe('Too many requests for this API key');
		expect(details(result.errors[0])).toMatchObject({ code: 'RATE_LIMITED', httpCode: 429 });
		expect(details(result.errors[0]).hint).toMatch(/^Nothing reached Bitrix24, so the trigger did not fire/);
	});

	test('a wait longer than "Max Wait on Rate Limit" fails the item at once, naming the wait; the key is held no longer than the bound', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 3_600 }), { entityId: 1, times: Infinity });
		const result = await fireAt(box.sandbox, ids(2), {
			apiKey,
			options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6, maxConcurrent: 1, maxRateLimitWaitSeconds: 20 },
			onError: 'continueErrorOutput',
		});

		expect(entityIds(box.sandbox)).toEqual([1, 2]);
		expect(errorMessage(result.errors[0])).toBe('Vibecode asked to wait 3600 seconds before the next request');
		expect(details(result.errors[0]).description).toMatch(/Max Wait on Rate Limit \(Seconds\)/);
		expect(result.main.map((item) => item.json.entityId)).toEqual([2]);
		expect(held()).toBe(20_000);
	});

	test('by default a wait the one-minute window asks for (59 s) is waited, and the item fires', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED'), { headers: { 'Retry-After': '59' } });
		const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6 }, onError: 'continueErrorOutput' });

		expect(result.errors).toEqual([]);
		expect(result.main.map((item) => item.json.entityId)).toEqual([1]);
		expect(entityIds(box.sandbox)).toEqual([1, 1]);
		expect(held()).toBe(59_000);
	});

	test('the default bound is a minute: a longer wait fails the item at once', async () => {
		const apiKey = freshKey(box.sandbox);
		refuse(box.sandbox, apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED'), { headers: { 'Retry-After': '61' } });
		const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6 }, onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('Vibecode asked to wait 61 seconds before the next request');
	});
});

test('the options shown in the editor are the defaults the node uses', async () => {
	const { loadPackage } = await import('./harness/loadPackage');
	const { nodeType } = await loadPackage();
	const options = nodeType.description.properties.find((p) => p.name === 'options')!;
	const defaults = Object.fromEntries(
		(options.options as Array<{ name: string; default: unknown }>).map((o) => [o.name, o.default]),
	);
	expect(defaults).toEqual({
		checkRecords: true,
		checkTriggerCodes: true,
		fireOnce: false,
		fireOnceKey: '',
		fireOnceMaxKeys: 10000,
		fireOnceUnanswered: 'report',
		maxConcurrent: 5,
		maxRateLimitRetries: 5,
		maxRateLimitWaitSeconds: 60,
		rehearse: false,
		reportStageChange: true,
		requestsPerMinute: 300,
		retryAmbiguousFires: false,
		whenNotMoved: 'report',
	});
});
