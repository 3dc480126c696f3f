import { systemClock, type Clock } from './clock';
import { Congestion } from './congestion';
import { FairQueue } from './fairQueue';
import { KeyWindow } from './keyWindow';
import { ProcessCache } from './processCache';
import type { RateHeaders } from './rateHeaders';
import { ReadBudget } from './readBudget';

export { DEFAULT_PER_MINUTE, PACE_MARGIN } from './keyWindow';

/**
 * Paces requests per API key, at what the key's answers say and no faster: starts spaced evenly
 * at the key's limit or the user's cap, others' share of the key left to them (./keyWindow.ts),
 * a struggling portal backed off from (./congestion.ts), at most "Max Concurrent Requests" in
 * flight, retries first and owners in turn (./fairQueue.ts). One pacer per key lives for the whole
 * n8n process, so every execution that uses the key shares its pace and what it learned.
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
export interface Answer extends RateHeaders {
	/** When the request started (the pacer's clock). */
	startedAt: number;
	/** The portal or the gateway is struggling: 502, 503, 504, a timeout. */
	overloaded: boolean;
	/** The key's limit refused the request (429). */
	refused: boolean;
	/** What was asked (the request's path): each kind of request is slow or fast in its own way. */
	kind: string;
}

/** What holds a key's pace below its limit: the portal, others on the key, other runs of this process on it, a 429's wait, the user's cap. */
export type PaceHold = 'portal' | 'others' | 'company' | 'refused' | 'cap';

interface Waiter extends Turn {
	start: () => void;
	drop: () => void;
}

const MAX_NAP_MS = 1000;
/** Another owner that asked for a turn this recently may soon read too: a read can wait for its company. */
const COMPANY_MS = 5000;
/** A 429 this recent still tells why the pace is what it is. */
const REFUSED_LATELY_MS = 60_000;

/** A turn given up before it came: nothing was sent. */
export class TurnCancelled extends Error {
	constructor() {
		super('Not sent: the run stopped before this request was due');
	}
}

export class Pacer {
	private readonly window: KeyWindow;
	private readonly congestion = new Congestion();
	private readonly waiting = new FairQueue<Waiter>();
	private readonly readBudget = new ReadBudget();
	/** When each owner last asked for a turn, for the last COMPANY_MS. */
	private readonly lastAskedAt = new Map<object, number>();
	private inFlight = 0;
	private lastStartAt = -Infinity;
	private holdUntil = 0;
	private refusedAt = -Infinity;
	private pumping = false;
	private wake: (() => void) | undefined;

	constructor(readonly clock: Clock = systemClock) {
		this.window = new KeyWindow(clock);
	}

	/** Requests wait for their turn or are in flight: the process's memory keeps this pacer. */
	get busy(): boolean {
		return this.inFlight > 0 || this.waiting.peek() !== undefined;
	}

	/** Resolves when the request may start; `retry` turns go before items that never started. */
	async acquire(turn: Turn, retry = false): Promise<void> {
		this.forgetQuietOwners();
		if (!this.busy) this.congestion.resume(this.clock.now());
		this.lastAskedAt.delete(turn.owner);
		this.lastAskedAt.set(turn.owner, this.clock.now());
		await new Promise<void>((resolve, reject) => {
			this.waiting.push({ ...turn, start: resolve, drop: () => reject(new TurnCancelled()) }, retry);
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
		if (answer.refused) this.refusedAt = now;
		this.window.observe(answer, now, this.inFlight);
		const pause = this.congestion.observe(answer, now, this.window.perSecond());
		if (pause !== undefined) this.holdFor(pause);
	}

	/**
	 * How long a read of `owner`'s, gathered since `since`, still waits for others' reads to take
	 * along (./readBudget.ts): 0 when the key's requests leave the portal room, when its wait is
	 * over, or when no other owner has used the key lately (a lone run or webhook never waits).
	 */
	readWaitMs(owner: object, since: number): number {
		return this.othersAsked(owner) ? this.readBudget.waitMs(this.clock.now(), since) : 0;
	}

	/** Another owner than `owner` asked for a turn in the last COMPANY_MS. */
	private othersAsked(owner: object): boolean {
		this.forgetQuietOwners();
		return this.lastAskedAt.size > (this.lastAskedAt.has(owner) ? 1 : 0);
	}

	/** Owners quiet for longer than COMPANY_MS are let go (a webhook stream makes an owner per execution). */
	private forgetQuietOwners() {
		const now = this.clock.now();
		// Map order is the order of the last asks: the oldest go first.
		for (const [owner, at] of this.lastAskedAt) {
			if (now - at <= COMPANY_MS) break;
			this.lastAskedAt.delete(owner);
		}
	}

	/** What holds `turn`'s pace below the key's limit now, as far as this process knows: for a long run's progress line. */
	holdsBack(turn: Turn): PaceHold[] {
		const now = this.clock.now();
		const holds: Array<PaceHold | false> = [
			this.congestion.factor < 1 && 'portal',
			this.window.othersTakePart(turn, now) && 'others',
			this.othersAsked(turn.owner) && 'company',
			now - this.refusedAt <= REFUSED_LATELY_MS && 'refused',
			this.window.capHolds(turn, now) && 'cap',
		];
		return holds.filter((hold): hold is PaceHold => hold !== false);
	}

	/** Drops an owner's waiting turns at once, its retries too: a stopped or cancelled run sends nothing more. */
	cancel(owner: object) {
		for (const waiter of this.waiting.cancel(owner)) waiter.drop();
		this.wakeUp();
	}

	private wakeUp() {
		const wake = this.wake;
		this.wake = undefined;
		wake?.();
	}

	private async pump() {
		if (this.pumping) return;
		this.pumping = true;
		try {
			for (let waiter = this.waiting.peek(); waiter; waiter = this.waiting.peek()) {
				const now = this.clock.now();
				const room = this.window.roomAt(now, this.inFlight);
				if (this.inFlight >= this.congestion.inFlightOf(waiter.maxInFlight) || room === undefined) {
					await new Promise<void>((resolve) => (this.wake = resolve));
					continue;
				}
				// Whole milliseconds: a sub-millisecond wait would still cost a timer tick per request.
				// Naps of a second at most: a cancelled queue leaves no long timer behind, and a
				// pace that changes meanwhile is taken up.
				const interval = this.window.intervalMs(waiter, now) / this.congestion.factor;
				const wait = Math.floor(Math.max(this.lastStartAt + interval, this.holdUntil, room) - now);
				if (wait > 0) {
					await this.clock.sleep(Math.min(wait, MAX_NAP_MS));
					continue;
				}
				this.waiting.take();
				this.inFlight++;
				this.lastStartAt = now;
				this.window.started(now);
				this.readBudget.started(now);
				waiter.start();
			}
		} finally {
			this.pumping = false;
		}
	}
}

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

const pacers = new ProcessCache<string, Pacer>((pacer) => pacer.busy);

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
