import type { IDataObject } from 'n8n-workflow';

/** What the gateway says of the key's rate window on an answer (X-RateLimit-* headers). */
export interface RateHeaders {
	/** The key's limit per minute. */
	limit?: number;
	/** Requests the window has room for now. */
	remaining?: number;
	/** When the window has room for one more (epoch ms). */
	resetAtMs?: number;
}

function count(value: unknown): number | undefined {
	const given = Array.isArray(value) ? value[0] : value;
	const number = typeof given === 'number' ? given : typeof given === 'string' && given.trim() !== '' ? Number(given) : NaN;
	return Number.isFinite(number) && number >= 0 ? number : undefined;
}

/**
 * Reads the rate-limit headers of an answer. X-RateLimit-Reset is read as epoch seconds, epoch
 * milliseconds or seconds from now, whichever its size says; an exact X-RateLimit-Reset-Ms (epoch
 * or from now, by its size) wins. Gateways differ in what the reset is (the end of a fixed window,
 * when the oldest request leaves a sliding one, 0 while there is room): the pacer only ever waits
 * for it, never learns the window's length from it.
 */
export function rateHeadersOf(headers: IDataObject | undefined, now: number): RateHeaders {
	if (!headers) return {};
	const limit = count(headers['x-ratelimit-limit']);
	const remaining = count(headers['x-ratelimit-remaining']);
	const resetMs = count(headers['x-ratelimit-reset-ms']);
	const reset = count(headers['x-ratelimit-reset']);
	let resetAtMs: number | undefined;
	if (resetMs !== undefined) resetAtMs = resetMs > 1e12 ? resetMs : now + resetMs;
	else if (reset !== undefined) resetAtMs = reset > 1e12 ? reset : reset > 1e9 ? reset * 1000 : now + reset * 1000;
	return {
		...(limit !== undefined && limit >= 1 && { limit: Math.floor(limit) }),
		...(remaining !== undefined && { remaining: Math.floor(remaining) }),
		...(resetAtMs !== undefined && { resetAtMs }),
	};
}
