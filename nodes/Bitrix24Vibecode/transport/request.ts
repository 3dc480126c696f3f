import type { IDataObject, IExecuteFunctions, IExecuteSingleFunctions, IHttpRequestOptions, ILoadOptionsFunctions, IN8nHttpFullResponse } from 'n8n-workflow';

import { failureFromNetworkError, failureFromResponse, isAmbiguous, type Failure } from './failure';
import { rateHeadersOf } from './rateHeaders';
import { fingerprint, pacerFor, type Pacer, type Turn } from './pacer';

export const CREDENTIAL_TYPE = 'bitrix24VibecodeApi';

const BACKOFF_BASE_MS = 1000;

/** n8n contexts that can send a request with the node's credential. */
export type HttpContext = IExecuteFunctions | IExecuteSingleFunctions | ILoadOptionsFunctions;

export function baseUrlOf(credentials: IDataObject): string {
	return String(credentials.baseUrl ?? '').replace(/\/+$/, '');
}

/**
 * A credential as process-wide memories know it (the portal, the trigger list): base URL, key and
 * session, hashed so that no secret is kept.
 */
export const credentialId = (credentials: IDataObject) =>
	fingerprint(`${baseUrlOf(credentials)}\n${String(credentials.apiKey ?? '')}\n${String(credentials.sessionToken ?? '')}`);

/** The pace of the credential's key, shared by every execution in this process. */
export function pacerOf(credentials: IDataObject): Pacer {
	return pacerFor(baseUrlOf(credentials), String(credentials.apiKey ?? ''));
}

/** Where a request waits: the key's pacer and the caller's turn in it. */
export interface Paced {
	pacer: Pacer;
	turn: Turn;
	/** Called with a final failure before the pace lets the next request go ("On Error: Stop"). */
	onFinalFailure?: (failure: Failure) => void;
}

/** Which failures the caller lets a request be sent again after. */
export interface RetryPolicy {
	/** 429 answers: refused before they reached Bitrix24, so always safe to resend. */
	rateLimitRetries: number;
	/** The longest 429 wait the key may be held for; a longer one fails the request. */
	maxRateLimitWaitSeconds: number;
	/** Failures after which the request may have reached Bitrix24 (see isAmbiguous). */
	ambiguousRetries: number;
}

/** The answer to one request, after the pace and any retries the policy allowed. */
export type Sent = { body: IDataObject; failure?: undefined } | { failure: Failure };

/** Answers that say the portal or the gateway is struggling: the key's pace backs off. */
const OVERLOAD_CODES = new Set(['BITRIX_UNAVAILABLE', 'QUEUE_TIMEOUT', 'QUERY_LIMIT_EXCEEDED', 'TIMEOUT']);
const overloaded = (failure: Failure | undefined) =>
	failure !== undefined && (OVERLOAD_CODES.has(failure.code) || ['502', '503', '504'].includes(failure.httpCode));

/** The wait before a retry, within the policy's bound; undefined when the server asks for longer. */
function waitMs(failure: Failure, attempt: number, policy: RetryPolicy): number | undefined {
	const boundMs = policy.maxRateLimitWaitSeconds * 1000;
	if (failure.retryAfterSeconds !== undefined) {
		const asked = failure.retryAfterSeconds * 1000;
		return asked <= boundMs ? asked : undefined;
	}
	const ceiling = Math.min(boundMs, BACKOFF_BASE_MS * 2 ** (attempt - 1));
	return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A request, or what makes it once its turn comes (a search that takes along the IDs others asked for while it waited). */
export type Request = IHttpRequestOptions | (() => IHttpRequestOptions);

/**
 * Sends one request with the node's credential under the key's pace, resending it only where
 * the policy allows. Throws TurnCancelled when the caller's turns were cancelled before the
 * request went out.
 */
export async function send(this: HttpContext, paced: Paced, request: Request, policy: RetryPolicy): Promise<Sent> {
	const { pacer, turn } = paced;
	let rateLimited = 0;
	let ambiguous = 0;
	let sending: IHttpRequestOptions | undefined;
	for (let retry = false; ; retry = true) {
		await pacer.acquire(turn, retry);
		sending ??= typeof request === 'function' ? request() : request;
		const startedAt = pacer.clock.now();
		let failure: Failure | undefined;
		try {
			let response: IN8nHttpFullResponse | undefined;
			try {
				response = (await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIAL_TYPE, {
					...sending,
					json: true,
					returnFullResponse: true,
					ignoreHttpStatusErrors: true,
				})) as IN8nHttpFullResponse;
				failure = failureFromResponse(response);
			} catch (error) {
				failure = failureFromNetworkError(error);
			}
			pacer.observe({
				...rateHeadersOf(response?.headers, pacer.clock.now()),
				startedAt,
				overloaded: overloaded(failure),
				refused: failure?.code === 'RATE_LIMITED',
				kind: sending.url,
			});
			if (!failure) return { body: (response as IN8nHttpFullResponse).body as IDataObject };

			if (failure.code === 'RATE_LIMITED' && rateLimited < policy.rateLimitRetries) {
				const wait = waitMs(failure, ++rateLimited, policy);
				if (wait !== undefined) {
					pacer.holdFor(wait);
					continue;
				}
				// Others on the key get the same answer: hold it as long as this caller may, no longer.
				pacer.holdFor(policy.maxRateLimitWaitSeconds * 1000);
				failure.refusedWaitSeconds = failure.retryAfterSeconds;
			}
			if (isAmbiguous(failure) && ambiguous < policy.ambiguousRetries) {
				const wait = waitMs(failure, ++ambiguous, policy);
				if (wait !== undefined) {
					pacer.holdFor(wait);
					continue;
				}
			}
			paced.onFinalFailure?.(failure);
			return { failure };
		} finally {
			// Only now: a stop recorded by onFinalFailure must hold before the next request may start.
			pacer.release();
		}
	}
}

/**
 * A read that a check makes on its way (a list, a search): its answer or its failure, and
 * undefined when its turn was cancelled first. A check that cannot read goes by nothing; it
 * never stops the caller.
 */
export async function tryRead(this: HttpContext, paced: Paced, request: Request, policy: RetryPolicy): Promise<Sent | undefined> {
	try {
		return await send.call(this, paced, request, policy);
	} catch {
		return undefined;
	}
}
