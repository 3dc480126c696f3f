import type { IDataObject, IN8nHttpFullResponse, INode, JsonObject } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

/** What the API (or the network) said, reduced to fields that are safe to show. */
export interface VibecodeFailure {
	code: string;
	httpCode: string;
	apiMessage?: string;
	hint?: string;
	userMessage?: string;
	retryAfterSeconds?: number;
	/** Set when a 429 asked for a longer wait than the node may hold the key. */
	refusedWaitSeconds?: number;
}

/** 'search': the Entity ID list (a read of CRM records). */
export type Operation = 'list' | 'fire' | 'search';

const CHECK_DASHBOARD = 'in the Vibecode dashboard';
const APP_KEY_NEEDED =
	'Listing triggers works only with an OAuth application key (vibe_app_…) plus a user session token; a personal key (vibe_api_…) can still fire triggers. Switch the credential to an application key, or type the trigger code: in the Trigger field switch from "From List" to "By Code".';
/** For failures that cannot have reached Bitrix24: a fire is safe to run again. */
const notSent = (operation: Operation) =>
	operation === 'fire'
		? 'Nothing reached Bitrix24, so the trigger did not fire: the item is safe to run again.'
		: 'Nothing reached Bitrix24.';
const MAY_HAVE_FIRED =
	'The trigger may already have fired: check the record in Bitrix24 before running the item again. The node did not resend it, so the automation cannot run twice (see the option "Retry Failed Fires (May Fire Twice)").';

interface Explanation {
	message: string;
	hint: string;
}

const byCode: Record<string, (operation: Operation, failure: VibecodeFailure) => Explanation> = {
	MISSING_PARAMS: () => ({
		message: 'Vibecode says a required field is missing',
		hint: 'Fill in Entity Type, Entity ID and Trigger.',
	}),
	INVALID_ENTITY_TYPE: () => ({
		message: 'Vibecode does not know this entity type',
		hint: 'Choose Deal, Lead, Contact, Company, Quote or Invoice as Entity Type.',
	}),
	MISSING_API_KEY: () => ({
		message: 'No Vibecode API key was sent',
		hint: 'Open the Bitrix24 Vibecode credential and paste your key into "API Key".',
	}),
	INVALID_API_KEY: () => ({
		message: 'The Vibecode API key is invalid or expired',
		hint: `Create a new key ${CHECK_DASHBOARD} and paste it into the credential.`,
	}),
	INVALID_APP_KEY: () => ({
		message: 'The OAuth application key needs a user session token',
		hint: 'Fill in "Session Token" in the credential with the token from the Vibecode OAuth flow (/v1/oauth/authorize).',
	}),
	TOKEN_MISSING: () => ({
		message: 'The API key has no active Bitrix24 session',
		hint: 'For an OAuth application key (vibe_app_…), fill in "Session Token" with the token from /v1/oauth/authorize. For a personal key, reconnect the Bitrix24 portal in the Vibecode dashboard.',
	}),
	TOKEN_EXPIRED: () => ({
		message: 'The Bitrix24 user session has expired',
		hint: 'Re-authorize via /v1/oauth/authorize and paste the new session token into the credential.',
	}),
	PAYMENT_REQUIRED: () => ({
		message: 'The Vibecode credit budget is used up',
		hint: `Top up the balance ${CHECK_DASHBOARD}, then run the workflow again.`,
	}),
	SCOPE_DENIED: () => ({
		message: 'The API key may not use the CRM',
		hint: `Enable the "crm" scope for this key ${CHECK_DASHBOARD}.`,
	}),
	BITRIX_ACCESS_DENIED: (operation) => {
		if (operation === 'list') return { message: 'Listing triggers needs an OAuth application key', hint: APP_KEY_NEEDED };
		if (operation === 'search') {
			return {
				message: 'Bitrix24 denied access to these records',
				hint: 'Check that the user behind the key may see these records in Bitrix24, and that the key was issued with the "crm" scope (a scope added to an existing key takes effect only once the key is re-issued). Or type the ID: switch Entity ID to "By ID".',
			};
		}
		return {
			message: 'Bitrix24 denied access to this record',
			hint: 'Check that the user behind the key may edit this record in Bitrix24.',
		};
	},
	OAUTH_REQUIRED: (operation) => ({
		message: 'This needs an OAuth application key',
		hint:
			operation === 'search'
				? 'Use an OAuth application key (vibe_app_…) with a session token, or type the ID: switch Entity ID to "By ID".'
				: APP_KEY_NEEDED,
	}),
	MANAGEMENT_KEY_NO_ENTITY_ACCESS: () => ({
		message: 'A management key cannot access CRM data',
		hint: 'Use a personal key (vibe_api_…) or an OAuth application key (vibe_app_…) instead of the management key (vibe_live_…).',
	}),
	WRITE_BLOCKED_READONLY_KEY: () => ({
		message: 'The API key is read-only',
		hint: `Firing a trigger changes data: use a key with write access, or turn off read-only mode ${CHECK_DASHBOARD}.`,
	}),
	RATE_LIMITED: (operation, { refusedWaitSeconds: wait }) =>
		wait === undefined
			? {
					message: 'Too many requests for this API key',
					hint: `${notSent(operation)} The node waited and retried as often as "Max Retries on Rate Limit" allows. Lower "Requests per Minute" in the node options, or raise the key's limit ${CHECK_DASHBOARD}.`,
				}
			: {
					message: `Vibecode asked to wait ${Math.ceil(wait)} seconds before the next request`,
					hint: `${notSent(operation)} The key is over its rate limit, and the wait is longer than the option "Max Wait on Rate Limit (Seconds)" allows, so the node did not hold the key that long. Run the item again later, lower "Requests per Minute", or raise that option.`,
				},
	BITRIX_UNAVAILABLE: (operation) => ({
		message: 'The Bitrix24 portal did not answer',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.',
	}),
	QUEUE_TIMEOUT: (operation) => ({
		message: 'The Vibecode gateway timed out',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.',
	}),
	INTERNAL_ERROR: (operation) => ({
		message: 'Vibecode had an internal error',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again later.',
	}),
	NOT_FOUND: () => ({
		message: 'Vibecode does not know this address',
		hint: 'Check the Base URL in the credential: it should be https://vibecode.bitrix24.tech without a path.',
	}),
	// Not Vibecode codes: what the node itself observed.
	NON_JSON_RESPONSE: (operation) => ({
		message: 'Vibecode answered with something that is not JSON',
		hint: `A gateway or proxy returned an error page. ${operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.'}`,
	}),
	EMPTY_RESPONSE: (operation) => ({
		message: 'Vibecode sent an empty answer',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.',
	}),
	UNKNOWN_FAILURE: (operation) => ({
		message: 'Vibecode reported a failure without details',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again later.',
	}),
	ECONNREFUSED: (operation) => ({
		message: 'Could not connect to Vibecode',
		hint: `${notSent(operation)} Check the Base URL in the credential and that n8n can reach it.`,
	}),
	ENOTFOUND: (operation) => ({
		message: 'The Vibecode host could not be found',
		hint: `${notSent(operation)} Check the Base URL in the credential.`,
	}),
	EAI_AGAIN: (operation) => ({
		message: "The Vibecode host name could not be looked up",
		hint: `${notSent(operation)} The DNS server did not answer in time; try again in a moment, and check n8n's network settings if it persists.`,
	}),
	INVALID_URL: (operation) => ({
		message: 'The Base URL is not a valid address',
		hint: `${notSent(operation)} Set the credential's Base URL to https://vibecode.bitrix24.tech (or your gateway's address, with http:// or https://).`,
	}),
	TLS_FAILED: (operation) => ({
		message: 'A secure connection to Vibecode could not be set up',
		hint: `${notSent(operation)} The server's certificate was not accepted, or the Base URL says https:// for a server that speaks plain http. Check the Base URL in the credential.`,
	}),
	ECONNRESET: (operation) => ({
		message: 'The connection to Vibecode broke before an answer arrived',
		hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.',
	}),
	TIMEOUT: (operation) => ({
		message: 'Vibecode did not answer in time',
		hint: `${operation === 'fire' ? MAY_HAVE_FIRED : 'Try again in a few minutes.'} The time limit is the node setting "Timeout".`,
	}),
};

const byStatus: Record<number, string> = {
	400: 'MISSING_PARAMS',
	401: 'INVALID_API_KEY',
	402: 'PAYMENT_REQUIRED',
	403: 'BITRIX_ACCESS_DENIED',
	404: 'NOT_FOUND',
	429: 'RATE_LIMITED',
	502: 'BITRIX_UNAVAILABLE',
	504: 'QUEUE_TIMEOUT',
};

function asText(value: unknown): string | undefined {
	return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function parseRetryAfter(header: unknown, body: unknown): number | undefined {
	const fromHeader = Number(Array.isArray(header) ? header[0] : header);
	if (Number.isFinite(fromHeader) && fromHeader >= 0) return fromHeader;
	if (typeof header === 'string') {
		const at = Date.parse(header);
		if (!Number.isNaN(at)) return Math.max(0, (at - Date.now()) / 1000);
	}
	const fromBody = Number(body);
	return Number.isFinite(fromBody) && fromBody >= 0 ? fromBody : undefined;
}

/** Reads a full HTTP response; undefined when it is a success. */
export function failureFromResponse(response: IN8nHttpFullResponse): VibecodeFailure | undefined {
	const { statusCode, body } = response;
	const httpCode = String(statusCode);
	if (body === undefined || body === null || body === '') {
		return { code: statusCode < 300 ? 'EMPTY_RESPONSE' : (byStatus[statusCode] ?? 'EMPTY_RESPONSE'), httpCode };
	}
	if (typeof body !== 'object' || Buffer.isBuffer(body)) {
		return { code: 'NON_JSON_RESPONSE', httpCode };
	}
	const envelope = body as IDataObject;
	if (statusCode < 300 && envelope.success === true) return undefined;
	const error = (typeof envelope.error === 'object' && envelope.error) || {};
	const { code, message, hint, userMessage, retryAfter } = error as IDataObject;
	const headers = response.headers ?? {};
	return {
		code: asText(code) ?? byStatus[statusCode] ?? 'UNKNOWN_FAILURE',
		httpCode,
		apiMessage: asText(message),
		hint: asText(hint),
		userMessage: asText(userMessage),
		retryAfterSeconds: parseRetryAfter(headers['retry-after'], retryAfter),
	};
}

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT']);
// Failures of the connection's set-up: no request byte reached the server.
const NOT_SENT_CODES: Record<string, string> = {
	ECONNREFUSED: 'ECONNREFUSED',
	ENOTFOUND: 'ENOTFOUND',
	EAI_AGAIN: 'EAI_AGAIN',
	ERR_INVALID_URL: 'INVALID_URL',
	ERR_INVALID_PROTOCOL: 'INVALID_URL',
	ERR_UNSUPPORTED_PROTOCOL: 'INVALID_URL',
	EPROTO: 'TLS_FAILED',
	ERR_SSL_WRONG_VERSION_NUMBER: 'TLS_FAILED',
	ERR_TLS_CERT_ALTNAME_INVALID: 'TLS_FAILED',
	DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS_FAILED',
	SELF_SIGNED_CERT_IN_CHAIN: 'TLS_FAILED',
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS_FAILED',
	UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS_FAILED',
	CERT_HAS_EXPIRED: 'TLS_FAILED',
	CERT_NOT_YET_VALID: 'TLS_FAILED',
};
const NOT_SENT_FAILURES = new Set(Object.values(NOT_SENT_CODES));

/** Reads an error thrown by n8n's HTTP helper (no response: the network failed). */
export function failureFromNetworkError(error: unknown): VibecodeFailure {
	const seen = error as { code?: unknown; cause?: { code?: unknown }; httpCode?: unknown; message?: unknown };
	// n8n 2.x keeps the socket's code on the cause; n8n 1.x drops the cause and puts it in httpCode.
	const raw = [seen?.code, seen?.cause?.code, seen?.httpCode].find((c) => typeof c === 'string' && /^[A-Z_]+$/.test(c)) as
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

/** Failures after which the request may have reached Bitrix24. */
export function isAmbiguous(failure: VibecodeFailure): boolean {
	if (NOT_SENT_FAILURES.has(failure.code) || failure.code === 'RATE_LIMITED') return false;
	const status = Number(failure.httpCode);
	return Number.isNaN(status) || status >= 500 || status < 300;
}

// For codes the node does not know: what the status alone says, and nothing more.
function byStatusOnly(failure: VibecodeFailure, operation: Operation): Explanation {
	const status = Number(failure.httpCode);
	const message = Number.isNaN(status)
		? `The connection to Vibecode failed (${failure.code})`
		: `Vibecode refused the request (${failure.code}, HTTP ${failure.httpCode})`;
	if (isAmbiguous(failure)) {
		return { message, hint: operation === 'fire' ? MAY_HAVE_FIRED : 'Try again later.' };
	}
	const refused =
		operation === 'fire' ? 'Vibecode refused the request, so the trigger did not fire.' : 'Vibecode refused the request.';
	return { message, hint: `${refused} Its message below says why; this code is not one the node knows.` };
}

function explain(failure: VibecodeFailure, operation: Operation): Explanation {
	const known = byCode[failure.code];
	return known ? known(operation, failure) : byStatusOnly(failure, operation);
}

export function toNodeApiError(
	node: INode,
	failure: VibecodeFailure,
	operation: Operation,
	itemIndex: number,
): NodeApiError {
	const { message, hint } = explain(failure, operation);
	const said = [failure.apiMessage, failure.userMessage].filter(Boolean).join(' — ');
	const description = [
		hint,
		failure.hint && `Vibecode's hint: ${failure.hint}`,
		said && `Vibecode said: "${said}"`,
	]
		.filter(Boolean)
		.join(' ');
	// Built from known fields only: the raw HTTP error holds the request and its secret headers.
	// The hint is the node's own: the gateway's "Retry later" on a 502 could run a fire twice,
	// and the description quotes it anyway.
	const response: JsonObject = { code: failure.code, httpCode: failure.httpCode, hint };
	if (failure.apiMessage) response.message = failure.apiMessage;
	if (failure.userMessage) response.userMessage = failure.userMessage;
	return new NodeApiError(node, response, {
		message,
		description,
		httpCode: failure.httpCode,
		itemIndex,
	});
}
