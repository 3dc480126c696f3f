import { apiError, FAST } from './helpers';
import { useEventClock } from './harness/virtualClock';
import { freshKey, ids } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

// On the event clock, which moves only when everything waits for it: each run ends before the
// waits it sets up are over, unless a stop fails to drop them, and then the clock moves on to
// their end and what they held is sent. No real timer outlives a test.
const clock = useEventClock({ start: Date.UTC(2026, 10, 29, 12, 0, 0) });
const box = useSandbox();
const sent = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => (r.body as { entityId: unknown }).entityId);

describe('Stop means stop', () => {
	test('"On Error: Stop": a retry waiting on a 429 is dropped when another item stops the run', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.injectFault({
			kind: 'error',
			status: 429,
			body: apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 25 }),
			match: { path: '/v1/triggers/fire', entityId: '1' },
		});
		box.sandbox.injectFault({
			kind: 'error',
			status: 403,
			body: apiError('BITRIX_ACCESS_DENIED', 'Доступ запрещён'),
			match: { path: '/v1/triggers/fire', entityId: '2' },
		});
		const result = await clock.runUntil(fireAt(box.sandbox, ids(2), { apiKey, options: { ...FAST, maxConcurrent: 2 } }));

		expect(result.error?.message).toBe('Bitrix24 denied access to this record');
		expect(result.error?.description).toMatch(/Not sent: item 0\.$/);
		expect(sent(box.sandbox)).toEqual([1, 2]);
		expect(box.sandbox.fires).toEqual([]);
	}, 20_000);

	test('cancelling the execution sends nothing more: items waiting for their turn are dropped at once', async () => {
		const apiKey = freshKey(box.sandbox);
		const stop = new AbortController();
		// One fire a minute: the second would wait a minute for its turn.
		const run = fireAt(box.sandbox, ids(5), { apiKey, options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1 }, signal: stop.signal });
		await clock.runUntil(box.sandbox.arrival('/v1/triggers/fire'));
		stop.abort();
		await clock.runUntil(run);

		expect(sent(box.sandbox)).toEqual([1]);
	}, 20_000);
});
