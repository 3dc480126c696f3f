import { details, errorMessage, FAST } from './helpers';
import { fireAt, useSandbox } from './sandboxRun';
import { runWorkflow } from './harness/runWorkflow';
import { startSandbox } from './sandbox/server';

const box = useSandbox();
const MAY_HAVE_FIRED = /may already have fired/;
const WITH_RETRY = { ...FAST, retryAmbiguousFires: true };

describe('Network faults', () => {
	test('a connection reset before the body was read: mapped, not resent', async () => {
		box.sandbox.injectFault({ kind: 'resetBeforeBody', times: 5 });
		const result = await fireAt(box.sandbox, [{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('The connection to Vibecode broke before an answer arrived');
		expect(details(result.errors[0])).toMatchObject({ code: 'ECONNRESET', httpCode: null });
		expect(box.sandbox.requests.filter((r) => r.path === '/v1/triggers/fire')).toHaveLength(1);
	});

	test('a reset after Bitrix24 applied the fire is never resent by default', async () => {
		box.sandbox.injectFault({ kind: 'resetAfterBody', apply: true, times: 5 });
		const result = await fireAt(box.sandbox, [{ id: 7 }], { onError: 'continueErrorOutput' });

		expect(details(result.errors[0]).hint).toMatch(MAY_HAVE_FIRED);
		expect(box.sandbox.fires.map((f) => f.entityId)).toEqual([7]);
	});

	test.each([
		['an HTML 502', { kind: 'html502' as const }],
		['a 502 BITRIX_UNAVAILABLE', { kind: 'json502' as const }],
		['a 504 with retryAfter', { kind: 'timeout504' as const }],
		['a reset after the body', { kind: 'resetAfterBody' as const }],
	])('with "Retry Failed Fires" on, %s is sent exactly once more', async (_label, fault) => {
		box.sandbox.injectFault({ ...fault, apply: true, times: 1 });
		const result = await fireAt(box.sandbox, [{ id: 9 }], { options: WITH_RETRY, onError: 'continueErrorOutput' });

		expect(result.errors).toEqual([]);
		expect(result.main[0].json).toMatchObject({ success: true, entityId: 9 });
		// Applied by the faulted request and again by the retry: the risk the option's name states.
		expect(box.sandbox.fires.map((f) => f.entityId)).toEqual([9, 9]);
	}, 15_000);

	test('with "Retry Failed Fires" on, a second failure ends the item after one retry', async () => {
		box.sandbox.injectFault({ kind: 'json502', times: 5 });
		const result = await fireAt(box.sandbox, [{ id: 9 }], { options: WITH_RETRY, onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('The Bitrix24 portal did not answer');
		expect(box.sandbox.requests.filter((r) => r.path === '/v1/triggers/fire')).toHaveLength(2);
	});

	test('a refused connection says where to look', async () => {
		const closed = await startSandbox();
		const url = closed.url;
		await closed.close();
		const result = await runWorkflow({
			parameters: { resource: 'trigger', operation: 'list', options: FAST },
			credentials: { apiKey: 'vibe_app_x', sessionToken: 'vibe_session_x', baseUrl: url },
		});

		expect(result.error?.message).toBe('Could not connect to Vibecode');
		expect(result.error?.description).toMatch(/Check the Base URL/);
	});

	test('List Triggers may retry a failed read', async () => {
		box.sandbox.injectFault({ kind: 'html502', times: 1 });
		const result = await runWorkflow({
			parameters: { resource: 'trigger', operation: 'list', options: FAST },
			credentials: { apiKey: 'vibe_app_sandbox_app', sessionToken: 'vibe_session_sandbox_user', baseUrl: box.sandbox.url },
		});

		expect(result.error).toBeUndefined();
		expect(result.main.map((item) => item.json.CODE)).toContain('payment_received');
	}, 15_000);
});
