/** How many entries each of the process's memories keeps (keys' pacers, trigger lists, portals, Fire Once call timing). */
export const PROCESS_CACHE_BOUND = 1000;

/**
 * A memory kept for the whole n8n process, by credential or store row; bounded, since an n8n
 * instance may serve any number of them. Past the bound the entry used longest ago goes (a get
 * or a set is a use): dropping an idle entry costs a read (a trigger list, a portal) or a lesson
 * (a pacer learns its key's window again from the next answer). An entry `inUse` (a pacer with
 * requests waiting or in flight) is never dropped: a second pacer made for its key would pace
 * beside it, together twice as fast. With every entry in use, the memory outgrows its bound.
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
