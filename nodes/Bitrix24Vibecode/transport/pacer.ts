import { systemClock, type Clock } from './clock';
import type { KeyWindow } from './keyWindow';

/**
 * Paces requests per API key, at what the key's answers say and no faster:
 * - starts are spaced evenly at the key's limit per minute (X-RateLimit-Limit; until an answer
 *   tells it, the turn's own interval), or at the user's cap when it is lower. The window is the
 *   documented minute (the clock's `windowMs`), whatever X-RateLimit-Reset means: Remaining and
 *   Reset only ever slow the pace down, never speed it past the limit;
 * - other users of the key (another n8n process, another app) take their share of its window:
 *   what the gateway counts beyond this process's own requests (X-RateLimit-Remaining) slows it
 *   down in proportion, and a window with no room left waits for its reset;
 * - a portal or gateway that struggles (502, 503, 504, answers slowing sharply) halves the rate
 *   and the requests in flight, which then grow back by a little with every healthy answer
 *   (additive increase, multiplicative decrease, as TCP does);
 * - at most "Max Concurrent Requests" are in flight.
 * One pacer per key lives for the whole n8n process, so every execution that uses the key
 * shares its pace and what it learned.
 */
export interface Turn {
	/** The spacing the caller asks for: its cap when `capped`, else the pace until the key's limit is known. */
	intervalMs: number;
	/** The interval is the user's cap: the key's own limit never makes the caller go faster than it. */
	capped?: boolean;
	maxInFlight: number;
	/** Whose request this is (a node run, a tool call): owners take turns, each in its own order. */
	owner: object;
}

/** What one answer told about the key and the portal behind it. */
export interface Answer extends KeyWindow {
	/** When the request started (the pacer's clock). */
	startedAt: number;
	/** The portal or the gateway is struggling: 502, 503, 504, a timeout. */
	overloaded: boolean;
	/** The key's limit refused the request (429). */
	refused: boolean;
	/** What was asked (the request's path): each kind of request is slow or fast in its own way. */
	kind: string;
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
// The gateway counts arrivals in a sliding window; starting exactly at the limit would let
// network jitter push one request per window over it.
export const PACE_MARGIN = 1.02;
/** Vibecode's default limit per key: the pace until the key's first answer tells its own. */
export const DEFAULT_PER_MINUTE = 300;
/** The least share of the key this process keeps however busy others keep it. */
const MIN_SHARE = 0.1;
/** How far back paces are read: at least this long, and at least this many of the key's intervals. */
const TREND_MS = 5_000;
const TREND_INTERVALS = 10;
/** Multiplicative decrease, its floor, and the additive increase per healthy answer (requests per second). */
const BACK_OFF = 0.5;
const MIN_FACTOR = 1 / 8;
const GROW_PER_ANSWER = 0.02;
/** After a cut: no second cut for this long (its in-flight answers tell nothing new), and a pause of a few of the key's intervals, at most a second, to let the portal drain. */
const CUT_QUIET_MS = 1000;
const CUT_PAUSE_INTERVALS = 5;
const MAX_CUT_PAUSE_MS = 1000;
/** An answer this much slower than the fastest of the last answers of its kind means the portal struggles. */
const SLOW_FACTOR = 4;
const SLOW_EXTRA_MS = 2000;
const LATENCY_SAMPLES = 20;
const LATENCY_MIN_SAMPLES = 5;

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

	private lastStartAt = -Infinity;

	private holdUntil = 0;

	/** The key's limit per window, once an answer told it. */
	private limit: number | undefined;

	/** The window as the last answer saw it, and when that answer's request started. */
	private window: { remaining: number; resetAtMs: number; seenAt: number; startedAt: number } | undefined;

	/** Since when the gateway counts this process's requests: a minute back, or the start of its fixed window. */
	private countedSince = -Infinity;

	/** This process's starts on the key in the last minute, oldest first. */
	private readonly starts: number[] = [];

	/**
	 * When others' requests reached the key, as far as the answers tell, oldest first: what their
	 * count in the window grew by since the last answer, beyond what this record says is still in
	 * it. Their count at the first answer is spread over the minute before it.
	 */
	private readonly othersArrived: Array<{ at: number; n: number }> = [];

	/** How much of the key's rate the portal takes now (1: all of it). */
	private factor = 1;

	private lastCutAt = -Infinity;

	/**
	 * How long the last answers took, per kind of request. Slow answers count too, so that a
	 * lasting change (a slower network) becomes the new normal after a while.
	 */
	private readonly latency = new Map<string, number[]>();

	private pumping = false;

	private wake: (() => void) | undefined;

	constructor(readonly clock: Clock = systemClock) {}

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
		this.holdUntil = Math.max(this.holdUntil, this.clock.now() + ms);
	}

	/** Learns from an answer: the key's limit and room, and how the portal is doing. */
	observe(answer: Answer) {
		const now = this.clock.now();
		if (answer.limit !== undefined) this.limit = answer.limit;
		if (answer.remaining !== undefined && this.limit !== undefined) {
			const counted = Math.max(0, this.limit - answer.remaining);
			let own = this.startsBetween(Math.max(answer.startedAt - this.clock.windowMs, this.countedSince), answer.startedAt);
			const last = this.window;
			// The gateway forgot most of this process's answered requests of the last minute, which a
			// sliding minute never does: it counts in fixed windows and a new one began after the last
			// answer. What it counts from now on began then; what others did before is forgotten too.
			if (last && counted < (own - this.inFlight) / 2) {
				this.countedSince = last.startedAt;
				this.othersArrived.length = 0;
				own = this.startsBetween(this.countedSince, answer.startedAt);
			}
			const others = Math.max(0, counted - own);
			this.window = { remaining: answer.remaining, resetAtMs: answer.resetAtMs ?? now, seenAt: now, startedAt: answer.startedAt };
			this.recordOthers(now, others, last === undefined);
		}
		const latencyMs = now - answer.startedAt;
		const recent = this.latency.get(answer.kind) ?? [];
		this.latency.set(answer.kind, recent);
		const fastest = Math.min(...recent);
		const slow = recent.length >= LATENCY_MIN_SAMPLES && latencyMs > Math.max(SLOW_FACTOR * fastest, fastest + SLOW_EXTRA_MS);
		recent.push(latencyMs);
		if (recent.length > LATENCY_SAMPLES) recent.shift();
		if (answer.overloaded || slow) {
			if (now - this.lastCutAt >= CUT_QUIET_MS) {
				this.factor = Math.max(MIN_FACTOR, this.factor * BACK_OFF);
				this.lastCutAt = now;
				this.holdFor(Math.min(MAX_CUT_PAUSE_MS, (CUT_PAUSE_INTERVALS * 1000) / this.perSecond()));
			}
			return;
		}
		if (this.factor < 1) this.factor = Math.min(1, this.factor + GROW_PER_ANSWER / this.perSecond());
	}

	/** The key's rate in requests per second: its limit when known, else the default Vibecode gives keys. */
	private perSecond(): number {
		return (this.limit ?? DEFAULT_PER_MINUTE) / (this.clock.windowMs / 1000);
	}

	private recordOthers(now: number, others: number, first: boolean) {
		const arrived = this.othersArrived;
		while (arrived.length && arrived[0].at <= now - this.clock.windowMs) arrived.shift();
		if (first) {
			for (let i = 1; i <= 10 && others > 0; i++) arrived.push({ at: now - this.clock.windowMs + (i * this.clock.windowMs) / 10, n: others / 10 });
			return;
		}
		const stillIn = arrived.reduce((sum, entry) => sum + entry.n, 0);
		if (others !== stillIn) arrived.push({ at: now, n: others - stillIn });
	}

	/** How far back "lately" reaches: enough of the key's intervals to count more than a few requests. */
	private trendMs(): number {
		return Math.max(TREND_MS, (TREND_INTERVALS * 1000) / this.perSecond());
	}

	/** Others' requests per millisecond lately. */
	private othersPace(now: number): number {
		const trendMs = this.trendMs();
		let n = 0;
		for (let i = this.othersArrived.length - 1; i >= 0 && this.othersArrived[i].at > now - trendMs; i--) n += this.othersArrived[i].n;
		return Math.max(0, n / trendMs);
	}

	private startsBetween(from: number, to: number): number {
		let n = 0;
		for (let i = this.starts.length - 1; i >= 0 && this.starts[i] > from; i--) if (this.starts[i] <= to) n++;
		return n;
	}

	/**
	 * The share of the key's rate this process may use: all of it unless others use it too, then
	 * in proportion to its own pace and theirs lately (`trendMs`). A user that stopped shows at
	 * once, long before its requests leave the window.
	 */
	private share(now: number): number {
		const othersPace = this.othersPace(now);
		if (othersPace === 0) return 1;
		const trendMs = this.trendMs();
		const ownPace = this.startsBetween(now - trendMs, now) / trendMs;
		return Math.max(MIN_SHARE, ownPace / (ownPace + othersPace));
	}

	/** The spacing for a waiter now: the key's limit (or the caller's pace, before it is known), the cap, the share, the portal. */
	private intervalOf(turn: Turn, now: number): number {
		const keyInterval = this.limit === undefined ? turn.intervalMs : (this.clock.windowMs / this.limit) * PACE_MARGIN;
		const base = turn.capped ? Math.max(turn.intervalMs, keyInterval) : keyInterval;
		return base / this.share(now) / this.factor;
	}

	private inFlightOf(turn: Turn): number {
		return Math.max(1, Math.floor(turn.maxInFlight * this.factor));
	}

	/** When the key's window has room for one more request as far as this process knows; undefined: wait for an answer. */
	private roomAt(now: number): number | undefined {
		const window = this.window;
		if (!window) return 0;
		const since = this.startsBetween(window.seenAt, now);
		// A reset still ahead when the answer came has freed room once it passed; a Reset of 0 frees nothing.
		const freed = window.resetAtMs > window.seenAt && now >= window.resetAtMs ? 1 : 0;
		// Others may have taken room since the answer: as many as their pace gives them.
		const takenByOthers = Math.ceil(this.othersPace(now) * (now - window.seenAt));
		if (window.remaining - since - takenByOthers + freed >= 1) return 0;
		if (window.resetAtMs > now) return window.resetAtMs;
		// The reset has passed and its room was taken: the next answer tells more; with none
		// awaited, one request goes and asks.
		return this.inFlight > 0 ? undefined : 0;
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
				const now = this.clock.now();
				const room = this.roomAt(now);
				if (this.inFlight >= this.inFlightOf(waiter) || room === undefined) {
					await new Promise<void>((resolve) => (this.wake = resolve));
					continue;
				}
				// Whole milliseconds: a sub-millisecond wait would still cost a timer tick per request.
				// Naps of a second at most: a cancelled queue leaves no long timer behind, and a
				// pace that changes meanwhile is taken up.
				const wait = Math.floor(Math.max(this.lastStartAt + this.intervalOf(waiter, now), this.holdUntil, room) - now);
				if (wait > 0) {
					await this.clock.sleep(Math.min(wait, MAX_NAP_MS));
					continue;
				}
				this.take(queue);
				this.inFlight++;
				this.lastStartAt = now;
				this.starts.push(now);
				while (this.starts.length && this.starts[0] <= now - this.clock.windowMs) this.starts.shift();
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
