import type { IN8nHttpFullResponse } from 'n8n-workflow';

import {
	failureFromNetworkError,
	failureFromResponse,
	isAmbiguous,
	type Failure,
} from '../../nodes/Bitrix24Vibecode/transport/failure';

// Oracles: /work/shared/api-docs (the error envelope, retryAfter on 429/504, Retry-After header)
// and the README's Errors table and "Retry Failed Fires" option.

const response = (statusCode: number, body: unknown, headers: Record<string, string> = {}): IN8nHttpFullResponse => ({
	statusCode,
	headers,
	body: body as IN8nHttpFullResponse['body'],
});
const envelope = (error: Record<string, unknown>) => ({ success: false, error });
const networkError = (message: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(message), fields);

afterEach(() => jest.restoreAllMocks());

describe('failureFromResponse', () => {
	test.each([
		['fire accepted', 200, { success: true, data: true }],
		['list of triggers', 200, { success: true, data: [{ NAME: 'Payment received', CODE: 'payment_received' }] }],
		['created (201)', 201, { success: true, data: { id: 5 } }],
	])('a success envelope is no failure: %s', (_name, status, body) => {
		expect(failureFromResponse(response(status, body))).toBeUndefined();
	});

	test('the documented 429 envelope: code, message, hint and retryAfter are kept', () => {
		const body = envelope({
			code: 'RATE_LIMITED',
			message: 'QUERY_LIMIT_EXCEEDED',
			hint: 'Wait 1-2 seconds and retry',
			retryAfter: 2,
		});
		expect(failureFromResponse(response(429, body, { 'retry-after': '2' }))).toEqual({
			code: 'RATE_LIMITED',
			httpCode: '429',
			apiMessage: 'QUERY_LIMIT_EXCEEDED',
			hint: 'Wait 1-2 seconds and retry',
			retryAfterSeconds: 2,
		});
	});

	test('a billing error keeps its Russian userMessage', () => {
		const body = envelope({ code: 'INSUFFICIENT_FUNDS', message: 'Budget exhausted', userMessage: 'Недостаточно средств' });
		expect(failureFromResponse(response(402, body))).toMatchObject({
			code: 'INSUFFICIENT_FUNDS',
			httpCode: '402',
			apiMessage: 'Budget exhausted',
			userMessage: 'Недостаточно средств',
		});
	});

	test('the fire page\'s 400 example', () => {
		const body = envelope({
			code: 'INVALID_ENTITY_TYPE',
			message: 'Unknown entityType "banana". Supported: deal, lead, contact, company, quote, invoice',
		});
		const failure = failureFromResponse(response(400, body));
		expect(failure).toMatchObject({ code: 'INVALID_ENTITY_TYPE', httpCode: '400' });
		expect(failure?.apiMessage).toContain('banana');
		expect(failure?.retryAfterSeconds).toBeUndefined();
	});

	test('an unknown code is kept as it is', () => {
		expect(failureFromResponse(response(422, envelope({ code: 'BITRIX_ERROR', message: 'x' })))).toMatchObject({
			code: 'BITRIX_ERROR',
			httpCode: '422',
		});
	});

	test.each([
		['Retry-After header alone', { 'retry-after': '3' }, undefined, 3],
		['error.retryAfter alone', {}, 4, 4],
		['error.retryAfter as text', {}, '5', 5],
		['a fraction of a second', { 'retry-after': '0.5' }, undefined, 0.5],
		['zero', { 'retry-after': '0' }, undefined, 0],
		['neither', {}, undefined, undefined],
	])('retryAfterSeconds, %s', (_name, headers, retryAfter, expected) => {
		const body = envelope({ code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', retryAfter });
		expect(failureFromResponse(response(429, body, headers))?.retryAfterSeconds).toBe(expected);
	});

	test('504 QUEUE_TIMEOUT carries retryAfter too', () => {
		const body = envelope({ code: 'QUEUE_TIMEOUT', message: 'Queue timeout', retryAfter: 10 });
		expect(failureFromResponse(response(504, body))).toMatchObject({ code: 'QUEUE_TIMEOUT', httpCode: '504', retryAfterSeconds: 10 });
	});

	test('Retry-After as an HTTP date: the seconds from now until then', () => {
		const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
		jest.spyOn(Date, 'now').mockReturnValue(now);
		const failure = failureFromResponse(
			response(429, envelope({ code: 'RATE_LIMITED' }), { 'retry-after': 'Wed, 21 Oct 2026 07:28:07 GMT' }),
		);
		expect(failure?.retryAfterSeconds).toBe(7);
	});

	test('Retry-After as an HTTP date already past: no wait', () => {
		jest.spyOn(Date, 'now').mockReturnValue(Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'));
		const failure = failureFromResponse(
			response(429, envelope({ code: 'RATE_LIMITED' }), { 'retry-after': 'Wed, 21 Oct 2026 07:27:00 GMT' }),
		);
		expect(failure?.retryAfterSeconds).toBe(0);
	});

	test.each([
		// An empty answer is named by its status where the status says enough.
		[200, 'EMPTY_RESPONSE'],
		[201, 'EMPTY_RESPONSE'],
		[400, 'MISSING_PARAMS'],
		[401, 'INVALID_API_KEY'],
		[402, 'PAYMENT_REQUIRED'],
		[403, 'BITRIX_ACCESS_DENIED'],
		[404, 'NOT_FOUND'],
		[429, 'RATE_LIMITED'],
		[502, 'BITRIX_UNAVAILABLE'],
		[504, 'QUEUE_TIMEOUT'],
		[503, 'EMPTY_RESPONSE'],
	])('an empty body with HTTP %i is %s', (status, code) => {
		for (const body of [undefined, null, '']) {
			expect(failureFromResponse(response(status, body))).toEqual({ code, httpCode: String(status) });
		}
	});

	test.each([
		[200, '<html><body>OK</body></html>'],
		[502, '<html><head><title>502 Bad Gateway</title></head></html>'],
		[403, '<html>Forbidden</html>'],
		[200, 'true'],
	])('a body that is not JSON (HTTP %i) is NON_JSON_RESPONSE', (status, body) => {
		expect(failureFromResponse(response(status, body))).toEqual({ code: 'NON_JSON_RESPONSE', httpCode: String(status) });
	});

	test('a body that arrives as raw bytes is not JSON either', () => {
		expect(failureFromResponse(response(502, Buffer.from('<html></html>')))).toMatchObject({ code: 'NON_JSON_RESPONSE' });
	});

	test.each([
		['200 with success: false and a code', 200, envelope({ code: 'BITRIX_ERROR', message: 'x' }), 'BITRIX_ERROR'],
		['200 with success: false and no error', 200, { success: false }, 'UNKNOWN_FAILURE'],
		['200 without success', 200, { data: true }, 'UNKNOWN_FAILURE'],
		['200 with success: "true" as text', 200, { success: 'true', data: true }, 'UNKNOWN_FAILURE'],
		['error without a code, status known', 502, { success: false, error: { message: 'Bitrix24 unavailable' } }, 'BITRIX_UNAVAILABLE'],
		['error without a code, status unknown', 418, { success: false, error: {} }, 'UNKNOWN_FAILURE'],
		['success: true with an error status', 500, { success: true, data: true }, 'UNKNOWN_FAILURE'],
	])('%s is a failure (%s)', (_name, status, body, code) => {
		expect(failureFromResponse(response(status, body))).toMatchObject({ code, httpCode: String(status) });
	});

	test('blank texts are dropped', () => {
		const failure = failureFromResponse(response(403, envelope({ code: 'SCOPE_DENIED', message: '  ', hint: '' })));
		expect(failure).toMatchObject({ code: 'SCOPE_DENIED', httpCode: '403' });
		expect(failure?.apiMessage).toBeUndefined();
		expect(failure?.hint).toBeUndefined();
	});
});

describe('failureFromNetworkError', () => {
	const cases: Array<[string, unknown, string]> = [
		// Connection set-up failures: nothing was sent.
		['refused', networkError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }), 'ECONNREFUSED'],
		['host not found', networkError('getaddrinfo ENOTFOUND nowhere.invalid', { code: 'ENOTFOUND' }), 'ENOTFOUND'],
		['DNS did not answer', networkError('getaddrinfo EAI_AGAIN vibecode.bitrix24.tech', { code: 'EAI_AGAIN' }), 'EAI_AGAIN'],
		// n8n 2.x: the socket's code on the cause.
		['refused, code on the cause', networkError('request failed', { cause: { code: 'ECONNREFUSED' } }), 'ECONNREFUSED'],
		// n8n 1.x: the cause dropped, the code in httpCode.
		['refused, n8n 1.x httpCode', networkError('The service refused the connection - perhaps it is offline', { httpCode: 'ECONNREFUSED' }), 'ECONNREFUSED'],
		['host not found, n8n 1.x httpCode', networkError('The DNS server returned an error', { httpCode: 'ENOTFOUND' }), 'ENOTFOUND'],
		['DNS timeout, n8n 1.x httpCode', networkError('getaddrinfo EAI_AGAIN', { httpCode: 'EAI_AGAIN' }), 'EAI_AGAIN'],
		// TLS, by code.
		['self-signed certificate', networkError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'TLS_FAILED'],
		['self-signed in chain', networkError('self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'TLS_FAILED'],
		['untrusted leaf', networkError('unable to verify the first certificate', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), 'TLS_FAILED'],
		['no local issuer', networkError('unable to get local issuer certificate', { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }), 'TLS_FAILED'],
		['expired certificate', networkError('certificate has expired', { code: 'CERT_HAS_EXPIRED' }), 'TLS_FAILED'],
		['wrong host name', networkError("Hostname/IP does not match certificate's altnames", { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'TLS_FAILED'],
		['https to plain http', networkError('write EPROTO 00:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', { code: 'EPROTO' }), 'TLS_FAILED'],
		['https to plain http, code only', networkError('ssl', { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'TLS_FAILED'],
		['TLS code on the cause', networkError('request failed', { cause: { code: 'CERT_HAS_EXPIRED' } }), 'TLS_FAILED'],
		['TLS code, n8n 1.x httpCode', networkError('request failed', { httpCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'TLS_FAILED'],
		// TLS, by message only.
		['TLS message: wrong version number', networkError('error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), 'TLS_FAILED'],
		['TLS message: ssl routines', networkError('error:0A000418:SSL routines::tlsv1 alert unknown ca'), 'TLS_FAILED'],
		['TLS message: certificate', networkError('unable to verify the first certificate'), 'TLS_FAILED'],
		// Invalid Base URL.
		['invalid URL, code', networkError('Invalid URL', { code: 'ERR_INVALID_URL' }), 'INVALID_URL'],
		['invalid URL, message only', networkError('Invalid URL'), 'INVALID_URL'],
		['unsupported protocol', networkError('Unsupported protocol ftp:', { code: 'ERR_UNSUPPORTED_PROTOCOL' }), 'INVALID_URL'],
		// Timeouts: the request may have arrived.
		['ETIMEDOUT', networkError('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), 'TIMEOUT'],
		['axios timeout (ECONNABORTED)', networkError('timeout of 10000ms exceeded', { code: 'ECONNABORTED' }), 'TIMEOUT'],
		['ESOCKETTIMEDOUT', networkError('socket timed out', { code: 'ESOCKETTIMEDOUT' }), 'TIMEOUT'],
		['undici headers timeout', networkError('Headers Timeout Error', { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'TIMEOUT'],
		['timeout, n8n 1.x httpCode', networkError('The connection timed out', { httpCode: 'ETIMEDOUT' }), 'TIMEOUT'],
		['timeout, message only', networkError('timeout of 5000ms exceeded'), 'TIMEOUT'],
		// A broken connection.
		['socket hang up with ECONNRESET', networkError('socket hang up', { code: 'ECONNRESET' }), 'ECONNRESET'],
		['socket hang up, message only', networkError('socket hang up'), 'ECONNRESET'],
		['ECONNRESET on the cause', networkError('read ECONNRESET', { cause: { code: 'ECONNRESET' } }), 'ECONNRESET'],
		['ECONNRESET, n8n 1.x httpCode', networkError('The connection was reset', { httpCode: 'ECONNRESET' }), 'ECONNRESET'],
		['EPIPE', networkError('write EPIPE', { code: 'EPIPE' }), 'ECONNRESET'],
		// Other codes are kept.
		['host unreachable', networkError('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }), 'EHOSTUNREACH'],
		['network unreachable, n8n 1.x httpCode', networkError('connect ENETUNREACH', { httpCode: 'ENETUNREACH' }), 'ENETUNREACH'],
		['undici socket error', networkError('other side closed', { code: 'UND_ERR_SOCKET' }), 'UND_ERR_SOCKET'],
		// Nothing to go on.
		['no code', networkError('something broke'), 'NETWORK_ERROR'],
		['a numeric httpCode is no network code', networkError('Request failed', { httpCode: '500' }), 'NETWORK_ERROR'],
		['not an Error', 'boom', 'NETWORK_ERROR'],
		['undefined', undefined, 'NETWORK_ERROR'],
	];
	test.each(cases.map(([name, error, code]) => [name, code, error]))('%s → %s', (_name, code, error) => {
		expect(failureFromNetworkError(error)).toEqual({ code, httpCode: 'none' });
	});
});

describe('isAmbiguous: may the request have reached Bitrix24?', () => {
	const f = (code: string, httpCode: string): Failure => ({ code, httpCode });
	test.each<[Failure, boolean]>([
		// The gateway or Bitrix24 failed after the request arrived.
		[f('BITRIX_UNAVAILABLE', '502'), true],
		[f('QUEUE_TIMEOUT', '504'), true],
		[f('INTERNAL_ERROR', '500'), true],
		[f('SOMETHING_NEW', '503'), true],
		[f('NON_JSON_RESPONSE', '502'), true],
		[f('EMPTY_RESPONSE', '502'), true],
		// A 2xx without success: true.
		[f('EMPTY_RESPONSE', '200'), true],
		[f('NON_JSON_RESPONSE', '200'), true],
		[f('UNKNOWN_FAILURE', '200'), true],
		[f('BITRIX_ERROR', '200'), true],
		// No answer after the connection was up.
		[f('TIMEOUT', 'none'), true],
		[f('ECONNRESET', 'none'), true],
		[f('NETWORK_ERROR', 'none'), true],
		[f('EHOSTUNREACH', 'none'), true],
		// Refused: the trigger did not fire.
		[f('MISSING_PARAMS', '400'), false],
		[f('INVALID_ENTITY_TYPE', '400'), false],
		[f('INVALID_API_KEY', '401'), false],
		[f('TOKEN_EXPIRED', '401'), false],
		[f('PAYMENT_REQUIRED', '402'), false],
		[f('BITRIX_ACCESS_DENIED', '403'), false],
		[f('SCOPE_DENIED', '403'), false],
		[f('NOT_FOUND', '404'), false],
		[f('BITRIX_ERROR', '422'), false],
		[f('RATE_LIMITED', '429'), false],
		// The connection was never set up.
		[f('ECONNREFUSED', 'none'), false],
		[f('ENOTFOUND', 'none'), false],
		[f('EAI_AGAIN', 'none'), false],
		[f('TLS_FAILED', 'none'), false],
		[f('INVALID_URL', 'none'), false],
	])('%o → %s', (failure, expected) => {
		expect(isAmbiguous(failure)).toBe(expected);
	});

	test('agrees with what the readers produce', () => {
		const refused = networkError('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
		const reset = networkError('socket hang up', { code: 'ECONNRESET' });
		expect(isAmbiguous(failureFromNetworkError(refused))).toBe(false);
		expect(isAmbiguous(failureFromNetworkError(reset))).toBe(true);
		const rateLimited = failureFromResponse(response(429, envelope({ code: 'RATE_LIMITED' }))) as Failure;
		expect(isAmbiguous(rateLimited)).toBe(false);
		const unavailable = failureFromResponse(response(502, envelope({ code: 'BITRIX_UNAVAILABLE' }))) as Failure;
		expect(isAmbiguous(unavailable)).toBe(true);
		const noSuccess = failureFromResponse(response(200, {})) as Failure;
		expect(isAmbiguous(noSuccess)).toBe(true);
	});
});
