import { systemClock, type Clock } from './clock';

/**
 * Paces requests per API key: starts are spaced evenly at "Requests per Minute" and at most
 * "Max Concurrent Requests" are in flight. One pacer per key lives for the whole n8n process,
 * so every execution that uses the key shares its pace.
 */
export interface Turn {
	intervalMs: number;
	maxInFlight: number;
	/** Whose request this is (a node run, a tool call): owners take turns, each in its own order. */
	owner: object;
}

interface Waiter extends Turn {
	start: () => void;
	drop: () => void;
}

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
		const kept: T[] = [];
		const removed: T[] = [];
		for (let i = this.head; i < this.items.length; i++) {
			const item = this.items[i] as T;
			(matches(item) ? removed : kept).push(item);
		}
		this.items = kept;
		this.head = 0;
		return removed;
	}
}

const MAX_NAP_MS = 1000;

/** A turn given up before it came: nothing was sent. */
export class TurnCancelled extends Error {
	constructor() {
		super('Not sent: the run stopped before this request was due');
	}
}

export class Pacer {
	private readonly retries = new Queue<Waiter>();

	/** Requests not started yet, a queue per owner; a webhook's one fire is not stuck behind a bulk run. */
	private readonly fresh = new Map<object, Queue<Waiter>>();

	private inFlight = 0;

	private nextStartAt = 0;

	private pumping = false;

	private wake: (() => void) | undefined;

	constructor(private readonly clock: Clock = systemClock) {}

	/** Resolves when the request may start; `retry` turns go before items that never started. */
	async acquire(turn: Turn, retry = false): Promise<void> {
		await new Promise<void>((resolve, reject) => {
			const waiter: Waiter = { ...turn, start: resolve, drop: () => reject(new TurnCancelled()) };
			if (retry) {
				this.retries.push(waiter);
			} else {
				const queue = this.fresh.get(turn.owner) ?? new Queue<Waiter>();
				this.fresh.set(turn.owner, queue);
				queue.push(waiter);
			}
			void this.pump();
		});
	}

	release() {
		this.inFlight--;
		this.wakeUp();
	}

	/** After a 429 nobody starts until the server's wait is over. */
	holdFor(ms: number) {
		this.nextStartAt = Math.max(this.nextStartAt, this.clock.now() + ms);
	}

	/** Drops an owner's waiting turns at once, its retries too: a stopped or cancelled run sends nothing more. */
	cancel(owner: object) {
		const dropped = [
			...(this.fresh.get(owner)?.removeWhere(() => true) ?? []),
			...this.retries.removeWhere((w) => w.owner === owner),
		];
		this.fresh.delete(owner);
		for (const waiter of dropped) waiter.drop();
		this.wakeUp();
	}

	private wakeUp() {
		const wake = this.wake;
		this.wake = undefined;
		wake?.();
	}

	private next(): Queue<Waiter> | undefined {
		return this.retries.size ? this.retries : this.fresh.values().next().value;
	}

	/** Takes the head of a queue and sends its owner to the back of the rotation. */
	private take(queue: Queue<Waiter>): Waiter {
		const waiter = queue.take() as Waiter;
		if (queue !== this.retries) {
			// Map order is insertion order: deleting and re-inserting moves the owner to the back.
			this.fresh.delete(waiter.owner);
			if (queue.size) this.fresh.set(waiter.owner, queue);
		}
		return waiter;
	}

	private async pump() {
		if (this.pumping) return;
		this.pumping = true;
		try {
			for (let queue = this.next(); queue; queue = this.next()) {
				const waiter = queue.peek() as Waiter;
				if (this.inFlight >= waiter.maxInFlight) {
					await new Promise<void>((resolve) => (this.wake = resolve));
					continue;
				}
				// Whole milliseconds: a sub-millisecond wait would still cost a timer tick per request.
				// Naps of a second at most: a cancelled queue leaves no long timer behind.
				const wait = Math.floor(this.nextStartAt - this.clock.now());
				if (wait > 0) {
					await this.clock.sleep(Math.min(wait, MAX_NAP_MS));
					continue;
				}
				this.take(queue);
				this.inFlight++;
				this.nextStartAt = this.clock.now() + waiter.intervalMs;
				waiter.start();
			}
		} finally {
			this.pumping = false;
		}
	}
}

const pacers = new Map<string, Pacer>();

/** The key is hashed so that no secret is kept in this process-wide map. */
export function fingerprint(text: string): string {
	let h1 = 0xdeadbeef;
	let h2 = 0x41c6ce57;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		h1 = Math.imul(h1 ^ c, 2654435761);
		h2 = Math.imul(h2 ^ c, 1597334677);
	}
	h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
	h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
	return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** The pace of a key: one for every execution in this process. */
export function pacerFor(baseUrl: string, apiKey: string): Pacer {
	const id = fingerprint(`${baseUrl}\n${apiKey}`);
	let pacer = pacers.get(id);
	if (!pacer) {
		pacer = new Pacer();
		pacers.set(id, pacer);
	}
	return pacer;
}
