import type { INode } from 'n8n-workflow';

import { nextTurn } from '../harness/system';

/** The node as n8n hands it to the checks; only its name and type matter to the messages. */
export const NODE: INode = {
	id: '1',
	name: 'Bitrix24 Vibecode',
	type: 'n8n-nodes-bitrix24-vibecode.bitrix24Vibecode',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

export interface VirtualClock {
	/** Virtual milliseconds since the clock was made. */
	at: number;
	/** Every wait the pacer asked for, in order. */
	sleeps: number[];
	/** Called as a wait begins (before the clock moves): a test may act "during" the wait. */
	onSleep?: (ms: number) => void;
	now(): number;
	sleep(ms: number): Promise<void>;
	windowMs: number;
}

/** A clock that moves only when the pacer waits, by exactly the wait, and takes no real time. */
export function virtualClock(): VirtualClock {
	const clock: VirtualClock = {
		at: 0,
		sleeps: [],
		windowMs: 60_000,
		now: () => clock.at,
		sleep: async (ms: number) => {
			clock.sleeps.push(ms);
			clock.onSleep?.(ms);
			await nextTurn();
			clock.at += ms;
		},
	};
	return clock;
}

export const totalWait = (clock: VirtualClock) => clock.sleeps.reduce((sum, ms) => sum + ms, 0);

/** Lets queued promise jobs and the virtual clock's turns run. */
export async function settle(turns = 20) {
	for (let i = 0; i < turns; i++) await nextTurn();
}

/** The error a synchronous call throws (fails the test when it throws none). */
export function thrownBy(call: () => unknown): Error {
	try {
		call();
	} catch (error) {
		return error as Error;
	}
	throw new Error('expected the call to throw');
}
