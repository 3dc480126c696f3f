import type { IDataObject, IN8nHttpFullResponse } from 'n8n-workflow';

/** What the API (or the network) said, reduced to fields that are safe to show. No wording: the operations word it. */
export interface Failure {
	code: string;
	/** The HTTP status as text, or "none" when no answer came. */
	httpCode: string;
	apiMessage?: string;
	hint?: string;
	userMessage?: string;
	retryAfterSeconds?: number;
	/** Set when a 429 asked for a longer wait than the caller may hold the key. */
	refusedWaitSeconds?: number;
	/** Bitrix24's own refusal, recognised by its message whatever status and code carry it. */
	bitrixRefusal?: BitrixRefusal;
}

/** Refusals Bitrix24 documents for crm.automation.trigger.execute: nothing was fired. */
export type BitrixRefusal =
	| 'TRIGGER_NOT_REGISTERED'
	| 'APPLICATION_CONTEXT_REQUIRED'
	| 'EMPTY_TRIGGER_CODE'
	| 'WRONG_TRIGGER_CODE'
	| 'WRONG_OWNER_TYPE_ID'
	| 'WRONG_OWNER_ID';

const BITRIX_REFUSALS: Array<[RegExp, BitrixRefusal]> = [
	[/Trigger with code .* is not registered/i, 'TRIGGER_NOT_REGISTERED'],
	[/Application context required/i, 'APPLICATION_CONTEXT_REQUIRED'],
	[/Empty trigger code/i, 'EMPTY_TRIGGER_CODE'],
	[/Wrong trigger code/i, 'WRONG_TRIGGER_CODE'],
	[/Incorrect parameter OWNER_TYPE_ID/i, 'WRONG_OWNER_TYPE_ID'],
	[/Incorrect parameter OWNER_ID/i, 'WRONG_OWNER_ID'],
];

const bitrixRefusalOf = (...said: Array<string | undefined>) =>
	BITRIX_REFUSALS.find(([pattern]) => said.some((text) => text && pattern.test(text)))?.[1];

const byStatus: Record<number, string> = {
	400: 'MISSING_PARAMS', 401: 'INVALID_API_KEY', 402: 'PAYMENT_REQUIRED', 403: 'BITRIX_ACCESS_DENIED', 404: 'NOT_FOUND',
	429: 'RATE_LIMITED', 502: 'BITRIX_UNAVAILABLE', 504: 'QUEUE_TIMEOUT',
};

function asText(value: unknown): string | undefined {
	return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A wait in seconds, as a number or an HTTP date; undefined when none is given ("", null). */
function secondsOf(value: unknown): number | undefined {
	const given = Array.isArray(value) ? value[0] : value;
	if (typeof given === 'number') return Number.isFinite(given) && given >= 0 ? given : undefined;
	if (typeof given !== 'string' || given.trim() === '') return undefined;
	const seconds = Number(given);
	if (Number.isFinite(seconds)) return seconds >= 0 ? seconds : undefined;
	const at = Date.parse(given);
	return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** Reads a full HTTP response; undefined when it is a success. */
export function failureFromResponse(response: IN8nHttpFullResponse): Failure | undefined {
	const { statusCode, body } = response;
	const httpCode = String(statusCode);
	const retryAfterHeader = (response.headers ?? {})['retry-after'];
	const envelope = typeof body === 'object' && body !== null && !Buffer.isBuffer(body) ? (body as IDataObject) : undefined;
	if (!envelope) {
		const empty = body === undefined || body === null || body === '';
		// Not Vibecode's answer (a proxy's page, or nothing): only a 429 says what happened anyway,
		// and an empty body takes the meaning of its status where the API gives it one.
		const code =
			statusCode === 429 || (empty && statusCode >= 300 && byStatus[statusCode])
				? byStatus[statusCode]
				: empty
					? 'EMPTY_RESPONSE'
					: 'NON_JSON_RESPONSE';
		return { code, httpCode, ...(code === 'RATE_LIMITED' && { retryAfterSeconds: secondsOf(retryAfterHeader) }) };
	}
	if (statusCode < 300 && envelope.success === true) return undefined;
	const error = (typeof envelope.error === 'object' && envelope.error) || {};
	const { code, message, hint, userMessage, retryAfter } = error as IDataObject;
	const failure: Failure = {
		code: asText(code) ?? byStatus[statusCode] ?? 'UNKNOWN_FAILURE',
		httpCode,
		apiMessage: asText(message),
		hint: asText(hint),
		userMessage: asText(userMessage),
		retryAfterSeconds: secondsOf(retryAfterHeader) ?? secondsOf(retryAfter),
	};
	const refusal = bitrixRefusalOf(failure.apiMessage, failure.userMessage);
	if (refusal) failure.bitrixRefusal = refusal;
	return failure;
}

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT']);
// Failures of the connection's set-up: no request byte reached the server.
const NOT_SENT_CODES: Record<string, string> = Object.fromEntries([
	...['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'].map((code) => [code, code]),
	...['ERR_INVALID_URL', 'ERR_INVALID_PROTOCOL', 'ERR_UNSUPPORTED_PROTOCOL'].map((code) => [code, 'INVALID_URL']),
	...['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']
		.concat(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])
		.map((code) => [code, 'TLS_FAILED']),
]);
const NOT_SENT_FAILURES = new Set(Object.values(NOT_SENT_CODES));

/** Reads an error thrown by n8n's HTTP helper (no response: the network failed). */
export function failureFromNetworkError(error: unknown): Failure {
	const seen = error as { code?: unknown; cause?: { code?: unknown }; httpCode?: unknown; message?: unknown };
	// n8n 2.x keeps the socket's code on the cause; n8n 1.x drops the cause and puts it in httpCode.
	const raw = [seen?.code, seen?.cause?.code, seen?.httpCode].find((c) => typeof c === 'string' && /^[A-Z][A-Z0-9_]*$/.test(c)) as
		| string
		| undefined;
	const text = String(seen?.message ?? '');
	let code = raw ?? 'NETWORK_ERROR';
	if (raw && NOT_SENT_CODES[raw]) code = NOT_SENT_CODES[raw];
	else if ((raw && TIMEOUT_CODES.has(raw)) || /timeout/i.test(text)) code = 'TIMEOUT';
	else if (/invalid url/i.test(text)) code = 'INVALID_URL';
	else if (/wrong version number|ssl routines|certificate/i.test(text)) code = 'TLS_FAILED';
	else if (raw === 'EPIPE' || /socket hang up/i.test(text)) code = 'ECONNRESET';
	return { code, httpCode: 'none' };
}

/** Answers that are not Vibecode's own: they say nothing of what happened behind them. */
const UNREADABLE = new Set(['EMPTY_RESPONSE', 'NON_JSON_RESPONSE']);

/** Failures after which the request may have reached Bitrix24. */
export function isAmbiguous(failure: Failure): boolean {
	if (NOT_SENT_FAILURES.has(failure.code) || failure.code === 'RATE_LIMITED' || failure.bitrixRefusal) return false;
	if (UNREADABLE.has(failure.code)) return true;
	const status = Number(failure.httpCode);
	return Number.isNaN(status) || status >= 500 || status < 300;
}
