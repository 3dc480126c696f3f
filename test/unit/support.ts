import type { INode } from 'n8n-workflow';

import { nextTurn } from '../harness/system';
import type { VirtualClock } from '../harness/virtualClock';

/** The node as n8n hands it to the checks; only its name and type matter to the messages. */
export const NODE: INode = {
	id: '1',
	name: 'Bitrix24 Vibecode',
	type: 'n8n-nodes-bitrix24-vibecode.bitrix24Vibecode',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

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
