import { DEFAULT_PER_MINUTE, PACE_MARGIN, type Turn } from './pacer';
import type { RetryPolicy } from './request';

/** The options a run's turns and retries are made of (the node's options table has them). */
type PaceOptions = { requestsPerMinute?: number; maxConcurrent: number; maxRateLimitRetries: number; maxRateLimitWaitSeconds: number; retryAmbiguousFires: boolean };

/** Reads, and fires whose user accepted a possible double run, get one more try. */
const AMBIGUOUS_RETRIES = 1;

/**
 * An owner's turn at the options' pace: "Requests per Minute" is a cap on the key's own limit
 * (unset: the key's limit, assumed to be Vibecode's default until an answer tells it), "Max
 * Concurrent Requests" in flight.
 */
export function turnOf(options: Pick<PaceOptions, 'requestsPerMinute' | 'maxConcurrent'>, owner: object): Turn {
	const perMinute = options.requestsPerMinute ?? DEFAULT_PER_MINUTE;
	return { intervalMs: (60_000 / perMinute) * PACE_MARGIN, capped: options.requestsPerMinute !== undefined, maxInFlight: options.maxConcurrent, owner };
}

/** Which failures a request may be resent after: a fire only where the user accepted it. */
export function retryPolicy(options: PaceOptions, { write }: { write: boolean }): RetryPolicy {
	return {
		rateLimitRetries: options.maxRateLimitRetries,
		maxRateLimitWaitSeconds: options.maxRateLimitWaitSeconds,
		ambiguousRetries: !write || options.retryAmbiguousFires ? AMBIGUOUS_RETRIES : 0,
	};
}
