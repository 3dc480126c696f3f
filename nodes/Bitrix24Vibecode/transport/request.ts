import type {
	IDataObject,
	IExecuteFunctions,
	IExecuteSingleFunctions,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	IN8nHttpFullResponse,
} from 'n8n-workflow';

import { DEFAULT_OPTIONS, type Options } from '../shared/options';
import {
	failureFromNetworkError,
	failureFromResponse,
	isAmbiguous,
	toNodeApiError,
	type Operation,
	type VibecodeFailure,
} from './errors';
import { pacerFor, type Pacer } from './pacer';

export const CREDENTIAL_TYPE = 'bitrix24VibecodeApi';

// The gateway counts arrivals in a sliding window; starting exactly at the limit would let
// network jitter push one request per window over it.
const PACE_MARGIN = 1.02;
const BACKOFF_BASE_MS = 1000;
/** Reads, and fires whose user accepted a possible double run, get one more try. */
const AMBIGUOUS_RETRIES = 1;

type Context = IExecuteFunctions | IExecuteSingleFunctions | ILoadOptionsFunctions;

export function baseUrlOf(credentials: IDataObject): string {
	return String(credentials.baseUrl ?? '').replace(/\/+$/, '');
}

export function pacerOf(credentials: IDataObject): Pacer {
	return pacerFor(baseUrlOf(credentials), String(credentials.apiKey ?? ''));
}

/**
 * A read for the editor's lists (triggers, records): under the key's pace with the default
 * options, its failure mapped to the node's error.
 */
export async function readForList(
	this: ILoadOptionsFunctions,
	credentials: IDataObject,
	request: IHttpRequestOptions,
	operation: Exclude<Operation, 'fire'>,
): Promise<IDataObject> {
	const sent = await sendPaced.call(this, {
		pacer: pacerOf(credentials),
		request: { ...request, baseURL: baseUrlOf(credentials) },
		operation,
		options: DEFAULT_OPTIONS,
		run: {},
	});
	if (sent.failure) throw toNodeApiError(this.getNode(), sent.failure, operation, 0);
	return sent.body;
}

/** The answer to one item's request, after the pace and any safe retries. */
export type Sent = { body: IDataObject; failure?: undefined } | { failure: VibecodeFailure };

export interface Send {
	pacer: Pacer;
	request: IHttpRequestOptions;
	operation: Operation;
	options: Options;
	/** The node run: runs take turns at the pace, and a run is cancelled as a whole. */
	run: object;
	/** Called with a final failure before the pace lets the next request go ("On Error: Stop"). */
	onFailure?: (failure: VibecodeFailure) => void;
}

/** The wait before a retry, within the user's bound; undefined when the server asks for longer. */
function waitMs(failure: VibecodeFailure, attempt: number, options: Options): number | undefined {
	const boundMs = options.maxRateLimitWaitSeconds * 1000;
	if (failure.retryAfterSeconds !== undefined) {
		const asked = failure.retryAfterSeconds * 1000;
		return asked <= boundMs ? asked : undefined;
	}
	const ceiling = Math.min(boundMs, BACKOFF_BASE_MS * 2 ** (attempt - 1));
	return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Sends one request under the API key's pace. A 429 was refused before it reached Bitrix24,
 * so it is sent again after the wait the gateway asks for; anything else that may have
 * reached Bitrix24 is resent only where that cannot double a fire. Throws TurnCancelled when
 * the run was cancelled before the request went out.
 */
export async function sendPaced(this: Context, send: Send): Promise<Sent> {
	const { pacer, request, operation, options, run } = send;
	const turn = {
		intervalMs: (60_000 / options.requestsPerMinute) * PACE_MARGIN,
		maxInFlight: options.maxConcurrent,
		run,
	};
	let rateLimited = 0;
	let ambiguous = 0;
	for (let retry = false; ; retry = true) {
		await pacer.acquire(turn, retry);
		let failure: VibecodeFailure | undefined;
		try {
			let response: IN8nHttpFullResponse | undefined;
			try {
				response = (await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIAL_TYPE, {
					...request,
					json: true,
					returnFullResponse: true,
					ignoreHttpStatusErrors: true,
				})) as IN8nHttpFullResponse;
				failure = failureFromResponse(response);
			} catch (error) {
				failure = failureFromNetworkError(error);
			}
			if (!failure) return { body: (response as IN8nHttpFullResponse).body as IDataObject };

			if (failure.code === 'RATE_LIMITED' && rateLimited < options.maxRateLimitRetries) {
				const wait = waitMs(failure, ++rateLimited, options);
				if (wait !== undefined) {
					pacer.holdFor(wait);
					continue;
				}
				// Others on the key get the same answer: hold it as long as this node may, no longer.
				pacer.holdFor(options.maxRateLimitWaitSeconds * 1000);
				failure.refusedWaitSeconds = failure.retryAfterSeconds;
			}
			const mayRetry = operation !== 'fire' || options.retryAmbiguousFires;
			if (mayRetry && isAmbiguous(failure) && ambiguous < AMBIGUOUS_RETRIES) {
				const wait = waitMs(failure, ++ambiguous, options);
				if (wait !== undefined) {
					pacer.holdFor(wait);
					continue;
				}
			}
			send.onFailure?.(failure);
			return { failure };
		} finally {
			// Only now: a stop recorded by onFailure must hold before the next item may start.
			pacer.release();
		}
	}
}

/**
 * For requests the node sends itself: what n8n's declarative engine builds from the node's
 * requestDefaults and its "requestOptions" settings (timeout, proxy, SSL).
 */
export function requestDefaultsOf(this: IExecuteFunctions, credentials: IDataObject): IHttpRequestOptions {
	const settings = this.getNodeParameter('requestOptions', 0, {}) as IDataObject;
	const request: IHttpRequestOptions = {
		url: '',
		baseURL: baseUrlOf(credentials),
		headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
		timeout: Number(settings.timeout) || 300_000,
		skipSslCertificateValidation: settings.allowUnauthorizedCerts === true,
	};
	if (typeof settings.proxy === 'string' && settings.proxy) {
		const proxy = new URL(settings.proxy);
		request.proxy = {
			host: proxy.hostname,
			port: Number(proxy.port),
			protocol: proxy.protocol.replace(/:$/, ''),
			...(proxy.username && { auth: { username: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } }),
		};
	}
	return request;
}
