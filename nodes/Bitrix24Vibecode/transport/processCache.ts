/** How many entries each of the process's memories keeps (keys' pacers, trigger lists, portals, Fire Once call timing). */
export const PROCESS_CACHE_BOUND = 1000;

/**
 * A memory kept for the whole n8n process, by credential or store row. Bounded, since an
 * n8n instance may serve any number of credentials: when a new entry would pass the bound, the
 * entry used longest ago goes (every get and set counts as a use). An entry still in use
 * (`inUse`: a pacer with requests waiting or in flight) is never dropped, since a second pacer
 * made for its key would pace the key beside it and together they would go twice as fast; if
 * every entry is in use the memory grows past its bound until one is idle. Dropping an idle
 * entry costs only a read (a trigger list, a portal) or a lesson (a pacer learns its key's window
 * again from the next answer).
 */
export class ProcessCache<K, V> {
	private readonly entries = new Map<K, V>();

	constructor(private readonly inUse: (value: V) => boolean = () => false) {}

	get(key: K): V | undefined {
		const value = this.entries.get(key);
		// Map order is insertion order: re-inserting makes the entry the last used.
		if (value !== undefined) this.set(key, value);
		return value;
	}

	set(key: K, value: V): this {
		if (!this.entries.delete(key) && this.entries.size >= PROCESS_CACHE_BOUND) this.dropOldestIdle();
		this.entries.set(key, value);
		return this;
	}

	delete(key: K): boolean {
		return this.entries.delete(key);
	}

	private dropOldestIdle() {
		for (const [key, value] of this.entries) {
			if (!this.inUse(value)) {
				this.entries.delete(key);
				return;
			}
		}
	}
}
