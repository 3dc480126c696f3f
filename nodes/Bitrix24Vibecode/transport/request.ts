import type {
	IDataObject,
	IExecuteSingleFunctions,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	IN8nHttpFullResponse,
} from 'n8n-workflow';

import {
	failureFromNetworkError,
	failureFromResponse,
	isAmbiguous,
	toNodeApiError,
	type Operation,
	type VibecodeFailure,
} from './errors';
import { pacerFor, type Pacer, type Turn } from './pacer';

export const CREDENTIAL_TYPE = 'bitrix24VibecodeApi';

export interface Pacing {
	requestsPerMinute: number;
	maxConcurrent: number;
	maxRateLimitRetries: number;
	retryAmbiguousFires: boolean;
}

// 300 per minute is Vibecode's default key limit. Five in flight keep that pace even when
// the portal takes a second to answer, without piling a burst onto the portal's own limit.
export const DEFAULT_PACING: Pacing = {
	requestsPerMinute: 300,
	maxConcurrent: 5,
	maxRateLimitRetries: 5,
	retryAmbiguousFires: false,
};

// The gateway counts arrivals in a sliding window; starting exactly at the limit would let
// network jitter push one request per window over it.
const PACE_MARGIN = 1.02;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30_000;
/** Reads, and fires whose user accepted a possible double run, get one more try. */
const AMBIGUOUS_RETRIES = 1;

type Context = IExecuteSingleFunctions | ILoadOptionsFunctions;

function backoffMs(failure: VibecodeFailure, attempt: number): number {
	if (failure.retryAfterSeconds !== undefined) return failure.retryAfterSeconds * 1000;
	const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
	return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function baseUrlOf(credentials: IDataObject): string {
	return String(credentials.baseUrl ?? '').replace(/\/+$/, '');
}

export function pacerOf(credentials: IDataObject): Pacer {
	return pacerFor(baseUrlOf(credentials), String(credentials.apiKey ?? ''));
}

/**
 * Sends one request under the API key's pace and returns the JSON body of a success.
 * A 429 was refused before it reached Bitrix24, so it is always safe to send again;
 * anything else that may have reached Bitrix24 is resent only where that cannot double a fire.
 */
export async function sendPaced(
	this: Context,
	pacer: Pacer,
	request: IHttpRequestOptions,
	operation: Operation,
	pacing: Pacing,
	itemIndex: number,
	place: Pick<Turn, 'run' | 'isCancelled'>,
): Promise<IDataObject> {
	const signal = 'getExecutionCancelSignal' in this ? this.getExecutionCancelSignal() : undefined;
	const turn = {
		intervalMs: (60_000 / Math.max(1, pacing.requestsPerMinute)) * PACE_MARGIN,
		maxInFlight: Math.max(1, pacing.maxConcurrent),
		run: place.run,
	};
	let rateLimited = 0;
	let ambiguous = 0;
	for (let retry = false; ; retry = true) {
		// A retry already holds its place in the run: only cancelling the execution drops it.
		await pacer.acquire(
			{ ...turn, isCancelled: retry ? () => signal?.aborted === true : place.isCancelled },
			retry,
		);
		let failure: VibecodeFailure | undefined;
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
		} finally {
			pacer.release();
		}
		if (!failure) return (response as IN8nHttpFullResponse).body as IDataObject;

		if (failure.code === 'RATE_LIMITED' && rateLimited < pacing.maxRateLimitRetries) {
			pacer.holdFor(backoffMs(failure, ++rateLimited));
			continue;
		}
		const mayRetry = operation === 'list' || pacing.retryAmbiguousFires;
		if (mayRetry && isAmbiguous(failure) && ambiguous < AMBIGUOUS_RETRIES) {
			pacer.holdFor(backoffMs(failure, ++ambiguous));
			continue;
		}
		throw toNodeApiError(this.getNode(), failure, operation, itemIndex);
	}
}
