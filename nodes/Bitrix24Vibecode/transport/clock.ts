import { sleep } from 'n8n-workflow';

export interface Clock {
	now(): number;
	sleep(ms: number): Promise<void>;
}

/** The pacer's sense of time, one for the process; tests swap its methods for a virtual clock. */
export const clock: Clock = {
	now: () => Date.now(),
	sleep: async (ms) => await sleep(ms),
};
