// nock only for socket errors no server can cause: a DNS lookup that fails (EAI_AGAIN), a refused
// connection followed by an answer from the same host, and an error code the node does not know.
import type { INodeParameters } from 'n8n-workflow';
import nock from 'nock';

import { API, details, errorMessage, FAST, fire, fireParameters, PERSONAL_KEY, RETRY_ON_FAIL } from './helpers';
import { fireAt, useSandbox } from './sandboxRun';
import { runWorkflow } from './harness/runWorkflow';
import { startSandbox } from './sandbox/server';
import { startTlsServer } from './sandbox/tlsServer';
import { useVirtualClock } from './harness/virtualClock';

// The node's waits (pacing, retries) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();
const MAY_HAVE_FIRED = /may already have fired/;
const WITH_RETRY = { ...FAST, retryAmbiguousFires: true };
const NOT_SENT = /^Nothing reached Bitrix24, so the trigger did not fire: the item is safe to run again\./;
afterEach(() => nock.cleanAll());

const socketError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** Fire Trigger for record 1 against a Base URL, with the error output. */
async function fireWith(baseUrl: string, requestOptions: INodeParameters = {}) {
	return await runWorkflow({
		parameters: { ...fireParameters(), requestOptions },
		items: [{ id: 1 }],
		onError: 'continueErrorOutput',
		credentials: { apiKey: PERSONAL_KEY, baseUrl },
	});
}

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

	describe('a failure that cannot have reached Vibecode says the fire was not sent', () => {
		let tls: Awaited<ReturnType<typeof startTlsServer>>;
		beforeAll(async () => (tls = await startTlsServer()));
		afterAll(async () => await tls.close());

		test('a refused connection', async () => {
			const closed = await startSandbox();
			await closed.close();
			const result = await fireWith(closed.url);

			expect(errorMessage(result.errors[0])).toBe('Could not connect to Vibecode');
			expect(details(result.errors[0])).toMatchObject({ code: 'ECONNREFUSED', hint: expect.stringMatching(NOT_SENT) });
		});

		test('https:// to a server that speaks plain http', async () => {
			const result = await fireWith(box.sandbox.url.replace('http://', 'https://'));

			expect(errorMessage(result.errors[0])).toBe('A secure connection to Vibecode could not be set up');
			expect(details(result.errors[0])).toMatchObject({ code: 'TLS_FAILED', hint: expect.stringMatching(NOT_SENT) });
			expect(box.sandbox.fires).toEqual([]);
		});

		test('a certificate n8n does not trust; with the node setting "Ignore SSL Issues" the fire goes through', async () => {
			tls.requests.count = 0;
			const refused = await fireWith(tls.url);

			expect(errorMessage(refused.errors[0])).toBe('A secure connection to Vibecode could not be set up');
			expect(details(refused.errors[0])).toMatchObject({ code: 'TLS_FAILED', hint: expect.stringMatching(NOT_SENT) });
			expect(tls.requests.count).toBe(0);

			const allowed = await fireWith(tls.url, { allowUnauthorizedCerts: true });
			expect(allowed.main.map((item) => item.json.success)).toEqual([true]);
			expect(tls.requests.count).toBe(1);
		});

		test('a Base URL that is not an address', async () => {
			const result = await fireWith('vibecode dot bitrix24');

			expect(errorMessage(result.errors[0])).toBe('The Base URL is not a valid address');
			expect(details(result.errors[0])).toMatchObject({ code: 'INVALID_URL', hint: expect.stringMatching(NOT_SENT) });
		});

		test('a DNS server that does not answer (EAI_AGAIN)', async () => {
			nock(API).post('/v1/triggers/fire').replyWithError(socketError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN vibecode.bitrix24.tech'));
			const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

			expect(errorMessage(result.errors[0])).toBe('The Vibecode host name could not be looked up');
			expect(details(result.errors[0])).toMatchObject({ code: 'EAI_AGAIN', hint: expect.stringMatching(NOT_SENT) });
		});

		test("n8n's Retry On Fail sends a not-sent fire again, once", async () => {
			let requests = 0;
			nock(API).post('/v1/triggers/fire').replyWithError(socketError('ECONNREFUSED', 'connect ECONNREFUSED 1.2.3.4:443'));
			nock(API)
				.post('/v1/triggers/fire')
				.reply(() => {
					requests++;
					return [200, { success: true, data: true }];
				});
			const result = await fire([{ id: 1 }], {
				onError: 'continueErrorOutput',
				settings: RETRY_ON_FAIL,
			});

			expect(requests).toBe(1);
			expect(result.main.map((item) => item.json.success)).toEqual([true]);
		});
	});

	test('a network error the node does not know keeps its code and does not guess', async () => {
		nock(API).post('/v1/triggers/fire').replyWithError(socketError('EWEIRD', 'something odd'));
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('The connection to Vibecode failed (EWEIRD)');
		expect(details(result.errors[0])).toMatchObject({ code: 'EWEIRD', hint: expect.stringMatching(MAY_HAVE_FIRED) });
	});
});
