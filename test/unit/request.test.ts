import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, IN8nHttpFullResponse } from 'n8n-workflow';

import type { Failure } from '../../nodes/Bitrix24Vibecode/transport/failure';
import { Pacer, TurnCancelled, type Turn } from '../../nodes/Bitrix24Vibecode/transport/pacer';
import { CREDENTIAL_TYPE, send, type Paced, type RetryPolicy } from '../../nodes/Bitrix24Vibecode/transport/request';
import { virtualClock } from '../harness/virtualClock';
import { totalWait } from './support';

// Oracles: the README's "Bulk firing, rate limits and retries" (429 waits, Max Wait, Retry
// Failed Fires) and Errors sections, and the API facts (429 is refused before Bitrix24; a 502,
// 504 or timeout on a write is ambiguous). Time is virtual: the pacer's clock moves only when
// it waits, by exactly the wait, so every wait below is exact and takes no real time.

type Answer = IN8nHttpFullResponse | Error;

const FIRE: IHttpRequestOptions = {
	method: 'POST',
	url: '/v1/triggers/fire',
	baseURL: 'https://vibecode.bitrix24.tech',
	body: { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' },
};
const fireFor = (entityId: number): IHttpRequestOptions => ({ ...FIRE, body: { ...(FIRE.body as IDataObject), entityId } });

/** The node's defaults for Fire Trigger (Retry Failed Fires off). */
const DEFAULT_POLICY: RetryPolicy = { rateLimitRetries: 5, maxRateLimitWaitSeconds: 30, ambiguousRetries: 0 };

const fired = (): IN8nHttpFullResponse => ({ statusCode: 200, headers: {}, body: { success: true, data: true } });
const apiError = (statusCode: number, error: IDataObject, headers: IDataObject = {}): IN8nHttpFullResponse => ({
	statusCode,
	headers,
	body: { success: false, error },
});
/** The documented 429: retryAfter in the body, mirrored by the Retry-After header. */
const rateLimited = (retryAfter?: number) =>
	retryAfter === undefined
		? apiError(429, { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED' })
		: apiError(429, { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', hint: 'Wait 1-2 seconds and retry', retryAfter }, { 'retry-after': String(retryAfter) });
const unavailable = () => apiError(502, { code: 'BITRIX_UNAVAILABLE', message: 'Bitrix24 is unavailable' });
const networkError = (message: string, code: string) => Object.assign(new Error(message), { code });

/** A pacer on a virtual clock and an n8n context whose HTTP helper answers from a script. */
function setup(answers: Answer[], turn: Partial<Turn> = {}) {
	const clock = virtualClock();
	const pacer = new Pacer(clock);
	const sent: Array<{ at: number; entityId: unknown }> = [];
	const httpRequestWithAuthentication = jest.fn(async (_credentialType: string, options: IHttpRequestOptions) => {
		sent.push({ at: clock.now(), entityId: (options.body as IDataObject).entityId });
		const answer = answers.shift();
		if (answer === undefined) throw new Error('a request the test did not script');
		if (answer instanceof Error) throw answer;
		return answer;
	});
	const context = { helpers: { httpRequestWithAuthentication } };
	const owner = {};
	const paced: Paced = { pacer, turn: { intervalMs: 0, maxInFlight: 5, owner, ...turn } };
	const run = async (policy: Partial<RetryPolicy> = {}, more: Partial<Paced> = {}, request = FIRE) =>
		await send.call(context as unknown as IExecuteFunctions, { ...paced, ...more }, request, { ...DEFAULT_POLICY, ...policy });
	const times = () => sent.map((s) => s.at);
	return { clock, pacer, owner, paced, context, httpRequestWithAuthentication, sent, times, run };
}

afterEach(() => jest.restoreAllMocks());

describe('send: what goes out', () => {
	test('a fire is sent once, with the credential, as JSON, the full response asked for and HTTP errors not thrown', async () => {
		const t = setup([fired()]);
		const request = { ...FIRE, body: { ...(FIRE.body as IDataObject) } };
		const result = await t.run({}, {}, request);

		expect(result).toEqual({ body: { success: true, data: true } });
		expect(result.failure).toBeUndefined();
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledWith('bitrix24VibecodeApi', {
			...FIRE,
			json: true,
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
		});
		expect(CREDENTIAL_TYPE).toBe('bitrix24VibecodeApi');
		// Called as n8n's helpers are: on the node's own context.
		expect(t.httpRequestWithAuthentication.mock.contexts[0]).toBe(t.context);
		// The caller's request is left as it was.
		expect(request).toEqual(FIRE);
		expect(t.clock.sleeps).toEqual([]);
	});

	test('List Triggers: the answer\'s body is returned as it came', async () => {
		const list = { success: true, data: [{ NAME: 'Payment received', CODE: 'payment_received' }] };
		const t = setup([{ statusCode: 200, headers: {}, body: list }]);
		const result = await t.run({ ambiguousRetries: 1 }, {}, { method: 'GET', url: '/v1/triggers', body: {} });
		expect(result).toEqual({ body: list });
	});

	test('onFinalFailure is not called for a success', async () => {
		const t = setup([fired()]);
		const onFinalFailure = jest.fn();
		await t.run({}, { onFinalFailure });
		expect(onFinalFailure).not.toHaveBeenCalled();
	});
});

describe('send: 429 Too Many Requests (refused before Bitrix24, safe to resend)', () => {
	test('Retry-After 2: resent after exactly 2 s, then fired', async () => {
		const t = setup([rateLimited(2), fired()]);
		const result = await t.run();

		expect(result).toEqual({ body: { success: true, data: true } });
		expect(t.times()).toEqual([0, 2000]);
		expect(totalWait(t.clock)).toBe(2000);
		expect(t.httpRequestWithAuthentication.mock.calls[1]).toEqual(t.httpRequestWithAuthentication.mock.calls[0]);
	});

	test('retryAfter in the body alone is the wait', async () => {
		const t = setup([apiError(429, { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', retryAfter: 3 }), fired()]);
		await t.run();
		expect(t.times()).toEqual([0, 3000]);
	});

	test('the Retry-After header alone is the wait, a fraction of a second too', async () => {
		const t = setup([apiError(429, { code: 'RATE_LIMITED' }, { 'retry-after': '0.25' }), fired()]);
		await t.run();
		expect(t.times()).toEqual([0, 250]);
	});

	test('each 429 is waited out as asked', async () => {
		const t = setup([rateLimited(1), rateLimited(2), rateLimited(1), fired()]);
		const result = await t.run();
		expect(result.failure).toBeUndefined();
		expect(t.times()).toEqual([0, 1000, 3000, 4000]);
	});

	test('the key is held meanwhile: another run on the key starts only after the wait, behind the retry', async () => {
		const t = setup([rateLimited(2), fired(), fired()]);
		let second: Promise<unknown> | undefined;
		let sentBeforeSecond: unknown[] = [];
		// As the first run starts waiting out its 429, a second run on the same key comes.
		t.clock.onSleep = () => {
			t.clock.onSleep = undefined;
			sentBeforeSecond = [...t.sent];
			second = t.run({}, { turn: { intervalMs: 0, maxInFlight: 5, owner: {} } }, fireFor(2));
		};
		await t.run({}, {}, fireFor(1));
		await second;

		expect(sentBeforeSecond).toEqual([{ at: 0, entityId: 1 }]);

		expect(t.sent).toEqual([
			{ at: 0, entityId: 1 },
			{ at: 2000, entityId: 1 },
			{ at: 2000, entityId: 2 },
		]);
	});

	test('the retry goes before a request that was already waiting for the key', async () => {
		const t = setup([rateLimited(2), fired(), fired()], { maxInFlight: 1 });
		const first = t.run({}, {}, fireFor(1));
		// Queued while the first is in flight: it waits for the one slot.
		const second = t.run({}, { turn: { intervalMs: 0, maxInFlight: 1, owner: {} } }, fireFor(2));
		await Promise.all([first, second]);

		expect(t.sent).toEqual([
			{ at: 0, entityId: 1 },
			{ at: 2000, entityId: 1 },
			{ at: 2000, entityId: 2 },
		]);
	});

	test('more 429s than Max Retries on Rate Limit: the last 429 is the failure', async () => {
		const t = setup([rateLimited(1), rateLimited(1), rateLimited(1), fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ rateLimitRetries: 2 }, { onFinalFailure });

		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(3);
		expect(t.times()).toEqual([0, 1000, 2000]);
		expect(result.failure).toEqual({
			code: 'RATE_LIMITED',
			httpCode: '429',
			apiMessage: 'QUERY_LIMIT_EXCEEDED',
			hint: 'Wait 1-2 seconds and retry',
			retryAfterSeconds: 1,
		});
		expect(result.failure?.refusedWaitSeconds).toBeUndefined();
		expect(onFinalFailure).toHaveBeenCalledTimes(1);
		expect(onFinalFailure).toHaveBeenCalledWith(result.failure);
	});

	test('Max Retries on Rate Limit 0: the first 429 is final', async () => {
		const t = setup([rateLimited(1), fired()]);
		const result = await t.run({ rateLimitRetries: 0 });
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure).toMatchObject({ code: 'RATE_LIMITED', httpCode: '429' });
	});

	test('a wait longer than Max Wait fails at once, and the key is held for Max Wait only', async () => {
		const t = setup([rateLimited(120), fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ maxRateLimitWaitSeconds: 30 }, { onFinalFailure });

		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure).toMatchObject({ code: 'RATE_LIMITED', httpCode: '429', retryAfterSeconds: 120, refusedWaitSeconds: 120 });
		expect(onFinalFailure).toHaveBeenCalledWith(result.failure);
		expect(t.clock.sleeps).toEqual([]);

		// The next request on the key starts after the 30 s the node may hold it, not the 120 s asked.
		await t.pacer.acquire({ intervalMs: 0, maxInFlight: 5, owner: {} });
		expect(t.clock.now()).toBe(30_000);
		t.pacer.release();
	});

	test('a wait of exactly Max Wait is waited out', async () => {
		const t = setup([rateLimited(30), fired()]);
		const result = await t.run({ maxRateLimitWaitSeconds: 30 });
		expect(result.failure).toBeUndefined();
		expect(t.times()).toEqual([0, 30_000]);
	});

	test('without Retry-After: exponential backoff, 0.5–1 s, then 1–2 s, then 2–4 s (lowest jitter)', async () => {
		jest.spyOn(Math, 'random').mockReturnValue(0);
		const t = setup([rateLimited(), rateLimited(), rateLimited(), fired()]);
		const result = await t.run();
		expect(result.failure).toBeUndefined();
		expect(t.times()).toEqual([0, 500, 1500, 3500]);
	});

	test('without Retry-After: exponential backoff, highest jitter stays within each step', async () => {
		jest.spyOn(Math, 'random').mockReturnValue(0.999999);
		const t = setup([rateLimited(), rateLimited(), rateLimited(), fired()]);
		await t.run();
		const at = t.times();
		const waited = at.slice(1).map((time, i) => time - at[i]);
		expect(waited).toHaveLength(3);
		expect(waited[0]).toBeGreaterThanOrEqual(999);
		expect(waited[0]).toBeLessThanOrEqual(1000);
		expect(waited[1]).toBeGreaterThanOrEqual(1999);
		expect(waited[1]).toBeLessThanOrEqual(2000);
		expect(waited[2]).toBeGreaterThanOrEqual(3999);
		expect(waited[2]).toBeLessThanOrEqual(4000);
	});

	test('without Retry-After, unstubbed jitter: every wait is within its step', async () => {
		const t = setup([rateLimited(), rateLimited(), rateLimited(), rateLimited(), fired()]);
		await t.run();
		const at = t.times();
		at.slice(1).forEach((time, i) => {
			const ceiling = 1000 * 2 ** i;
			expect(time - at[i]).toBeGreaterThanOrEqual(ceiling / 2 - 1);
			expect(time - at[i]).toBeLessThanOrEqual(ceiling);
		});
	});

	test('the backoff never waits longer than Max Wait', async () => {
		jest.spyOn(Math, 'random').mockReturnValue(0.999999);
		const t = setup([rateLimited(), rateLimited(), rateLimited(), rateLimited(), fired()]);
		const result = await t.run({ maxRateLimitWaitSeconds: 1 });
		expect(result.failure).toBeUndefined();
		const at = t.times();
		for (const waited of at.slice(1).map((time, i) => time - at[i])) {
			expect(waited).toBeGreaterThanOrEqual(500);
			expect(waited).toBeLessThanOrEqual(1000);
		}
	});
});

describe('send: failures after which the fire may have reached Bitrix24', () => {
	test.each<[string, Answer]>([
		['502 BITRIX_UNAVAILABLE', unavailable()],
		['504 QUEUE_TIMEOUT', apiError(504, { code: 'QUEUE_TIMEOUT', message: 'Queue timeout' })],
		['500 INTERNAL_ERROR', apiError(500, { code: 'INTERNAL_ERROR', message: 'Internal error' })],
		['200 without success', { statusCode: 200, headers: {}, body: { data: true } }],
		['200 with an empty body', { statusCode: 200, headers: {}, body: '' }],
		['an HTML error page', { statusCode: 502, headers: {}, body: '<html>502 Bad Gateway</html>' }],
		['socket hang up', networkError('socket hang up', 'ECONNRESET')],
		['a timeout', networkError('timeout of 300000ms exceeded', 'ECONNABORTED')],
	])('%s with ambiguousRetries 0 (Retry Failed Fires off): not resent', async (_name, answer) => {
		const t = setup([answer, fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ ambiguousRetries: 0 }, { onFinalFailure });

		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure).toBeDefined();
		expect(onFinalFailure).toHaveBeenCalledTimes(1);
		expect(onFinalFailure).toHaveBeenCalledWith(result.failure);
	});

	// A 502 BITRIX_UNAVAILABLE or a timeout also says the portal struggles: the key pauses for a
	// second, longer than the backoff (README, "Bulk firing").
	test.each<[string, Answer, number]>([
		['502 BITRIX_UNAVAILABLE', unavailable(), 1000],
		['200 without success', { statusCode: 200, headers: {}, body: { data: true } }, 750],
		['socket hang up', networkError('socket hang up', 'ECONNRESET'), 750],
		['a timeout', networkError('connect ETIMEDOUT', 'ETIMEDOUT'), 1000],
	])('%s with ambiguousRetries 1: resent once after a backoff of 0.5–1 s, or the pause of a struggling portal', async (_name, answer, resentAt) => {
		jest.spyOn(Math, 'random').mockReturnValue(0.5);
		const t = setup([answer, fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ ambiguousRetries: 1 }, { onFinalFailure });

		expect(result).toEqual({ body: { success: true, data: true } });
		expect(t.times()).toEqual([0, resentAt]);
		expect(onFinalFailure).not.toHaveBeenCalled();
	});

	test('a 502 again after the one resend is final', async () => {
		const t = setup([unavailable(), unavailable(), fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ ambiguousRetries: 1 }, { onFinalFailure });

		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(2);
		expect(result.failure).toEqual({ code: 'BITRIX_UNAVAILABLE', httpCode: '502', apiMessage: 'Bitrix24 is unavailable' });
		expect(onFinalFailure).toHaveBeenCalledTimes(1);
	});

	test('504 with retryAfter: the one resend waits what the gateway asks', async () => {
		const t = setup([apiError(504, { code: 'QUEUE_TIMEOUT', message: 'Queue timeout', retryAfter: 3 }), fired()]);
		const result = await t.run({ ambiguousRetries: 1 });
		expect(result.failure).toBeUndefined();
		expect(t.times()).toEqual([0, 3000]);
	});

	test('504 asking for a wait longer than Max Wait: not resent', async () => {
		const t = setup([apiError(504, { code: 'QUEUE_TIMEOUT', message: 'Queue timeout', retryAfter: 120 }), fired()]);
		const result = await t.run({ ambiguousRetries: 1, maxRateLimitWaitSeconds: 30 });
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure).toMatchObject({ code: 'QUEUE_TIMEOUT', httpCode: '504' });
	});
});

describe('send: refusals and connections that never got through are not resent', () => {
	test.each<[string, Answer, Partial<Failure>]>([
		['400 MISSING_PARAMS', apiError(400, { code: 'MISSING_PARAMS', message: 'entityId missing' }), { code: 'MISSING_PARAMS', httpCode: '400' }],
		['400 INVALID_ENTITY_TYPE', apiError(400, { code: 'INVALID_ENTITY_TYPE', message: 'Unknown entityType' }), { code: 'INVALID_ENTITY_TYPE', httpCode: '400' }],
		['401 INVALID_API_KEY', apiError(401, { code: 'INVALID_API_KEY', message: 'Invalid key' }), { code: 'INVALID_API_KEY', httpCode: '401' }],
		['401 TOKEN_EXPIRED', apiError(401, { code: 'TOKEN_EXPIRED', message: 'Session expired' }), { code: 'TOKEN_EXPIRED', httpCode: '401' }],
		['402 billing', apiError(402, { code: 'INSUFFICIENT_FUNDS', userMessage: 'Недостаточно средств' }), { code: 'INSUFFICIENT_FUNDS', httpCode: '402' }],
		['403 BITRIX_ACCESS_DENIED', apiError(403, { code: 'BITRIX_ACCESS_DENIED', message: 'Доступ запрещён' }), { code: 'BITRIX_ACCESS_DENIED', httpCode: '403', apiMessage: 'Доступ запрещён' }],
		['403 SCOPE_DENIED', apiError(403, { code: 'SCOPE_DENIED', message: 'crm scope' }), { code: 'SCOPE_DENIED', httpCode: '403' }],
		['404 without a body', { statusCode: 404, headers: {}, body: '' }, { code: 'NOT_FOUND', httpCode: '404' }],
		['connection refused', networkError('connect ECONNREFUSED 127.0.0.1:443', 'ECONNREFUSED'), { code: 'ECONNREFUSED', httpCode: 'none' }],
		['host not found', networkError('getaddrinfo ENOTFOUND nowhere.invalid', 'ENOTFOUND'), { code: 'ENOTFOUND', httpCode: 'none' }],
		['untrusted certificate', networkError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), { code: 'TLS_FAILED', httpCode: 'none' }],
	])('%s: sent once, whatever the policy allows', async (_name, answer, failure) => {
		const t = setup([answer, fired(), fired()]);
		const onFinalFailure = jest.fn();
		const result = await t.run({ rateLimitRetries: 5, ambiguousRetries: 5 }, { onFinalFailure });

		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure).toMatchObject(failure);
		expect(onFinalFailure).toHaveBeenCalledTimes(1);
		expect(onFinalFailure).toHaveBeenCalledWith(result.failure);
		expect(t.clock.sleeps).toEqual([]);
	});
});

describe('send: the pace', () => {
	test('every outcome gives its slot back: one slot serves request after request', async () => {
		const t = setup(
			[fired(), unavailable(), networkError('connect ECONNREFUSED', 'ECONNREFUSED'), rateLimited(120), fired()],
			{ maxInFlight: 1 },
		);
		const results = [];
		for (let i = 0; i < 5; i++) results.push(await t.run({ rateLimitRetries: 1 }));
		expect(results.map((r) => r.failure?.code)).toEqual([undefined, 'BITRIX_UNAVAILABLE', 'ECONNREFUSED', 'RATE_LIMITED', undefined]);
	});

	test('onFinalFailure runs before the next request may start: a stop recorded there holds', async () => {
		const t = setup([apiError(403, { code: 'BITRIX_ACCESS_DENIED' }), fired()], { maxInFlight: 1 });
		const other = {};
		const onFinalFailure = jest.fn(() => t.pacer.cancel(other));
		const first = t.run({}, { onFinalFailure }, fireFor(1));
		// Waits for the one slot, which the failing request holds.
		const second = t.run({}, { turn: { intervalMs: 0, maxInFlight: 1, owner: other } }, fireFor(2));

		await expect(first).resolves.toMatchObject({ failure: { code: 'BITRIX_ACCESS_DENIED' } });
		await expect(second).rejects.toBeInstanceOf(TurnCancelled);
		expect(t.sent.map((s) => s.entityId)).toEqual([1]);
	});

	test('cancelled before its turn came: TurnCancelled, nothing sent', async () => {
		const t = setup([fired()]);
		t.pacer.holdFor(5000);
		const onFinalFailure = jest.fn();
		const result = t.run({}, { onFinalFailure });
		// The request is queued at once, behind the hold; the run stops before its turn.
		t.pacer.cancel(t.owner);

		await expect(result).rejects.toBeInstanceOf(TurnCancelled);
		expect(t.httpRequestWithAuthentication).not.toHaveBeenCalled();
		expect(onFinalFailure).not.toHaveBeenCalled();
	});

	test('cancelled while waiting out a 429: the retry is dropped, nothing more is sent', async () => {
		const t = setup([rateLimited(2), fired()]);
		t.clock.onSleep = () => t.pacer.cancel(t.owner);
		await expect(t.run()).rejects.toBeInstanceOf(TurnCancelled);
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
	});

	test('a cancel of another owner leaves the run alone', async () => {
		const t = setup([fired()]);
		t.pacer.holdFor(1000);
		const result = t.run();
		t.pacer.cancel({});
		await expect(result).resolves.toEqual({ body: { success: true, data: true } });
		expect(t.times()).toEqual([1000]);
	});
});
