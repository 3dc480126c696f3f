/**
 * A memory for one run and all its tries: `tries` is the object n8n hands every try of a run
 * (n8n's Retry On Fail runs the node again with the same execute data; an AI tool call's retries
 * get the same arguments object), so what a try remembers here the next try finds, and it goes
 * when n8n drops the object.
 */
export function triesMemory<T>(): (tries: object) => Map<string, T> {
	const memory = new WeakMap<object, Map<string, T>>();
	return (tries) => {
		let entries = memory.get(tries);
		if (!entries) {
			entries = new Map();
			memory.set(tries, entries);
		}
		return entries;
	};
}
