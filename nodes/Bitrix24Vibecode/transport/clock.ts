import { sleep } from 'n8n-workflow';

export interface Clock {
	now(): number;
	sleep(ms: number): Promise<void>;
	/**
	 * The length of a key's rate window: Vibecode documents its limit per minute, and what
	 * X-RateLimit-Reset holds differs from gateway to gateway, so it is never read from an answer.
	 * Tests give a shorter one with a clock of their own (the sandbox's compressed windows).
	 */
	readonly windowMs: number;
}

/** The pacers' sense of time in n8n. A Pacer takes another clock as its constructor's argument. */
export const systemClock: Clock = Object.freeze({
	now: () => Date.now(),
	sleep: async (ms: number) => await sleep(ms),
	windowMs: 60_000,
});
