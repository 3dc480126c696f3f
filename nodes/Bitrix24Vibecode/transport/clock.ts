import { sleep } from 'n8n-workflow';

export interface Clock {
	now(): number;
	sleep(ms: number): Promise<void>;
}

/** The pacers' sense of time in n8n. A Pacer takes another clock as its constructor's argument. */
export const systemClock: Clock = Object.freeze({
	now: () => Date.now(),
	sleep: async (ms: number) => await sleep(ms),
});
