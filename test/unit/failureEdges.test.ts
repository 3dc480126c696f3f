import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, IN8nHttpFullResponse } from 'n8n-workflow';

import { apiError } from '../../nodes/Bitrix24Vibecode/errors';
import { failureFromNetworkError, failureFromResponse, isAmbiguous } from '../../nodes/Bitrix24Vibecode/transport/failure';
import { Pacer } from '../../nodes/Bitrix24Vibecode/transport/pacer';
import { send, type RetryPolicy } from '../../nodes/Bitrix24Vibecode/transport/request';
import { virtualClock } from '../harness/virtualClock';
import { NODE } from '../unit/support';

// Edges of reading an answer that these tests found wrong once (each now fixed): a 429's wait
// when the body says nothing, waits given as nothing, network codes with digits, and answers
// that are not Vibecode's own. Each test names the README sentence it holds the source to.

const POLICY: RetryPolicy = { rateLimitRetries: 5, maxRateLimitWaitSeconds: 30, ambiguousRetries: 0 };
const FIRE: IHttpRequestOptions = { method: 'POST', url: '/v1/triggers/fire', body: { entityType: 'deal', entityId: 1, triggerId: 't' } };
const fired: IN8nHttpFullResponse = { statusCode: 200, headers: {}, body: { success: true, data: true } };
const response = (statusCode: number, body: unknown, headers: IDataObject = {}): IN8nHttpFullResponse => ({
	statusCode,
	headers,
	body: body as IN8nHttpFullResponse['body'],
});

function setup(answers: IN8nHttpFullResponse[]) {
	const clock = virtualClock();
	const pacer = new Pacer(clock);
	const at: number[] = [];
	const httpRequestWithAuthentication = jest.fn(async () => {
		at.push(clock.now());
		return answers.shift() ?? fired;
	});
	const context = { helpers: { httpRequestWithAuthentication } } as unknown as IExecuteFunctions;
	const run = async (policy: Partial<RetryPolicy> = {}) =>
		await send.call(context, { pacer, turn: { intervalMs: 0, maxInFlight: 5, owner: {} } }, FIRE, { ...POLICY, ...policy });
	return { at, run, httpRequestWithAuthentication };
}

afterEach(() => jest.restoreAllMocks());

// A 429 whose body is empty (or not JSON) is RATE_LIMITED by its status, and its Retry-After
// header counts. README: "The item waits what the gateway asks (Retry-After
// header or error.retryAfter; otherwise exponential backoff …)" and "When the gateway asks for
// a longer one, the item fails at once".
describe('a 429 with an empty body waits what its Retry-After header asks', () => {
	test('failureFromResponse keeps the header\'s wait', () => {
		expect(failureFromResponse(response(429, '', { 'retry-after': '3' }))).toEqual({
			code: 'RATE_LIMITED',
			httpCode: '429',
			retryAfterSeconds: 3,
		});
	});

	test('send waits exactly the asked 2 s', async () => {
		jest.spyOn(Math, 'random').mockReturnValue(0);
		const t = setup([response(429, '', { 'retry-after': '2' }), fired]);
		await t.run();
		expect(t.at).toEqual([0, 2000]);
	});

	test('send fails at once when the asked wait is longer than Max Wait', async () => {
		const t = setup(Array.from({ length: 6 }, () => response(429, '', { 'retry-after': '120' })));
		const result = await t.run({ maxRateLimitWaitSeconds: 30 });
		expect(t.httpRequestWithAuthentication).toHaveBeenCalledTimes(1);
		expect(result.failure?.refusedWaitSeconds).toBe(120);
	});
});

// `"retryAfter": null` in the body, or an empty Retry-After header, asks for no wait (backoff
// then), not for a wait of 0 s; an empty header does not hide the body's retryAfter.
describe('a null retryAfter or an empty Retry-After header is no wait asked', () => {
	test('"retryAfter": null asks for no wait', () => {
		const failure = failureFromResponse(response(429, { success: false, error: { code: 'RATE_LIMITED', retryAfter: null } }));
		expect(failure?.retryAfterSeconds).toBeUndefined();
	});

	test('an empty Retry-After header leaves error.retryAfter in force', () => {
		const body = { success: false, error: { code: 'RATE_LIMITED', retryAfter: 4 } };
		expect(failureFromResponse(response(429, body, { 'retry-after': '' }))?.retryAfterSeconds).toBe(4);
	});
});

// A network code with a digit in it is kept. README, Errors:
// "another network error | The connection to Vibecode failed (CODE) | The code is kept".
describe('a network error code with a digit in it is kept', () => {
	test.each(['ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_GOAWAY_SESSION'])('%s', (code) => {
		expect(failureFromNetworkError(Object.assign(new Error('stream closed'), { code }))).toEqual({ code, httpCode: 'none' });
	});
});

// An answer that is not Vibecode's own (a proxy's HTML page, an empty body with a status the
// API gives no meaning, JSON without success/error) says nothing of what happened behind it:
// Fire Trigger's message and isAmbiguous() must agree on it, since the ledger, Retry On Fail and
// an AI tool's "fired" follow isAmbiguous(). README, Errors: "HTML or malformed body … As for 502".
describe('"may already have fired" in the message agrees with isAmbiguous', () => {
	// The last column is the README's verdict: a page or an empty body is "as for 502"; a 429 is
	// a 429 whatever its body; JSON with a 4xx status is a refusal by status.
	test.each<[number, unknown, string, boolean]>([
		[403, '<html><body>403 Forbidden</body></html>', 'NON_JSON_RESPONSE', true],
		[404, '<html><body>Not Found</body></html>', 'NON_JSON_RESPONSE', true],
		[429, '<html><body>Too Many Requests</body></html>', 'RATE_LIMITED', false],
		[409, '', 'EMPTY_RESPONSE', true],
		[422, {}, 'UNKNOWN_FAILURE', false],
		[301, '', 'EMPTY_RESPONSE', true],
	])('HTTP %i, body %p: %s, may have fired: %p', (status, body, code, mayHaveFired) => {
		const failure = failureFromResponse(response(status, body));
		expect(failure?.code).toBe(code);
		if (!failure) return;
		const error = apiError(NODE, 0, failure, 'fire');
		const saysMayHaveFired = /may already have fired/.test(error.description ?? '');
		expect(isAmbiguous(failure)).toBe(mayHaveFired);
		expect(saysMayHaveFired).toBe(isAmbiguous(failure));
	});
});
