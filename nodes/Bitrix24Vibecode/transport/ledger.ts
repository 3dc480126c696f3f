import { isAmbiguous } from './errors';
import type { Sent } from './request';

// What became of each fire that may have reached Bitrix24, per node run. n8n's Retry On Fail
// runs the node again with the same execute data, and an AI agent's tool calls share the
// agent's: a fire found here is answered from memory, never sent again. Refused fires and
// fires that were never sent are forgotten, so a retry sends them.
const memory = new WeakMap<object, Map<string, Promise<Sent>>>();

export async function atMostOnce(run: object, fire: string, send: () => Promise<Sent>): Promise<Sent> {
	let fires = memory.get(run);
	if (!fires) {
		fires = new Map();
		memory.set(run, fires);
	}
	const known = fires.get(fire);
	if (known) return await known;
	const attempt = send();
	fires.set(fire, attempt);
	try {
		const sent = await attempt;
		if (sent.failure && !isAmbiguous(sent.failure)) fires.delete(fire);
		return sent;
	} catch (error) {
		fires.delete(fire);
		throw error;
	}
}
