import { isAmbiguous } from '../../transport/failure';
import type { Sent } from '../../transport/request';
import { fireName, type FireInput } from './fireInput';
import { triesMemory } from './triesMemory';

// What became of each fire that may have reached Bitrix24, for one run and all its tries. A fire
// found here is answered from memory, never sent again. Refused fires and fires that were never
// sent are forgotten, so a retry sends them.
interface Entry {
	pending: Promise<Sent>;
	settled?: Sent;
}

const entriesOf = triesMemory<Entry>();

/** One fire of one item of a node: the same item and record on a later try is the same fire. */
export const fireKey = (nodeName: string, itemIndex: number, fire: FireInput) => `${nodeName}\n${itemIndex}\n${fireName(fire)}`;

/** The outcome of a fire that an earlier try settled. */
export function recall(tries: object, fire: string): Sent | undefined {
	return entriesOf(tries).get(fire)?.settled;
}

/** Sends a fire unless an earlier or concurrent try of the same run has it; then its outcome. */
export async function atMostOnce(tries: object, fire: string, send: () => Promise<Sent>): Promise<Sent> {
	const entries = entriesOf(tries);
	const known = entries.get(fire);
	if (known) return await known.pending;
	const entry: Entry = { pending: send() };
	entries.set(fire, entry);
	// Attached first, so the ledger knows the outcome before the caller goes on.
	entry.pending.then(
		(sent) => {
			if (sent.failure && !isAmbiguous(sent.failure)) entries.delete(fire);
			else entry.settled = sent;
		},
		() => entries.delete(fire),
	);
	return await entry.pending;
}
