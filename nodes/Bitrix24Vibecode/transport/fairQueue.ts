/** A FIFO without Array#shift, which is O(n) on the long queues of bulk runs. */
class Queue<T> {
	private items: Array<T | undefined> = [];
	private head = 0;

	get size() {
		return this.items.length - this.head;
	}

	push(item: T) {
		this.items.push(item);
	}

	peek(): T | undefined {
		return this.items[this.head];
	}

	take(): T | undefined {
		const item = this.items[this.head];
		this.items[this.head++] = undefined;
		if (this.head > 1024 && this.head * 2 > this.items.length) {
			this.items = this.items.slice(this.head);
			this.head = 0;
		}
		return item;
	}

	/** Removes every item that matches; for cancelling, which is rare. */
	removeWhere(matches: (item: T) => boolean): T[] {
		const all = this.items.slice(this.head) as T[];
		this.items = all.filter((item) => !matches(item));
		this.head = 0;
		return all.filter(matches);
	}
}

/**
 * Requests waiting for the key, in the order they go: retries first (they started once
 * already), then owners (a node run, a tool call) in turn, each owner's requests in its own
 * order, so that a webhook's one fire is not stuck behind a bulk run.
 */
export class FairQueue<T extends { owner: object }> {
	private readonly retries = new Queue<T>();
	/** Requests not started yet, a queue per owner, in the order the owners take turns. */
	private readonly fresh = new Map<object, Queue<T>>();

	push(item: T, retry: boolean) {
		if (retry) {
			this.retries.push(item);
			return;
		}
		const queue = this.fresh.get(item.owner) ?? new Queue<T>();
		this.fresh.set(item.owner, queue);
		queue.push(item);
	}

	/** The request that goes next; undefined when none waits. */
	peek(): T | undefined {
		return this.next()?.peek();
	}

	/** Takes the request that goes next, and sends its owner to the back of the rotation. */
	take(): T | undefined {
		const queue = this.next();
		const item = queue?.take();
		if (queue && queue !== this.retries && item) {
			// Map order is insertion order: deleting and re-inserting moves the owner to the back.
			this.fresh.delete(item.owner);
			if (queue.size) this.fresh.set(item.owner, queue);
		}
		return item;
	}

	/** Removes every waiting request of an owner, its retries too; returns them. */
	cancel(owner: object): T[] {
		const dropped = [...(this.fresh.get(owner)?.removeWhere(() => true) ?? []), ...this.retries.removeWhere((w) => w.owner === owner)];
		this.fresh.delete(owner);
		return dropped;
	}

	private next(): Queue<T> | undefined {
		return this.retries.size ? this.retries : this.fresh.values().next().value;
	}
}
