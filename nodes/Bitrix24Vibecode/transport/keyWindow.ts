import type { Clock } from './clock';
import type { RateHeaders } from './rateHeaders';

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

/** The pace a caller asks for: its interval, and whether that is the user's cap (see ./pacer.ts's Turn). */
type Asked = { intervalMs: number; capped?: boolean };

/**
 * The key's window as this process knows it: the key's limit, the room left in it, and the share
 * others (another n8n process, another app) take of it. The window is the documented minute
 * (the clock's `windowMs`), whatever X-RateLimit-Reset means: Remaining and Reset only ever slow
 * the pace down, never speed it past the limit.
 */
export class KeyWindow {
	/** The key's limit per window, once an answer told it. */
	private limit: number | undefined;
	/** The window as the last answer saw it, and when that answer's request started. */
	private seen: { remaining: number; resetAtMs: number; seenAt: number; startedAt: number } | undefined;
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

	constructor(private readonly clock: Pick<Clock, 'windowMs'>) {}

	/** A request of this process started on the key. */
	started(now: number) {
		this.starts.push(now);
		while (this.starts.length && this.starts[0] <= now - this.clock.windowMs) this.starts.shift();
	}

	/** Learns the key's limit and room from an answer to a request that started at `startedAt`; `inFlight`: this process's requests not answered yet. */
	observe(answer: RateHeaders & { startedAt: number }, now: number, inFlight: number) {
		if (answer.limit !== undefined) this.limit = answer.limit;
		if (answer.remaining === undefined || this.limit === undefined) return;
		const counted = Math.max(0, this.limit - answer.remaining);
		let own = this.startsBetween(Math.max(answer.startedAt - this.clock.windowMs, this.countedSince), answer.startedAt);
		const last = this.seen;
		// The gateway forgot most of this process's answered requests of the last minute, which a
		// sliding minute never does: it counts in fixed windows and a new one began after the last
		// answer. What it counts from now on began then; what others did before is forgotten too.
		if (last && counted < (own - inFlight) / 2) {
			this.countedSince = last.startedAt;
			this.othersArrived.length = 0;
			own = this.startsBetween(this.countedSince, answer.startedAt);
		}
		const others = Math.max(0, counted - own);
		this.seen = { remaining: answer.remaining, resetAtMs: answer.resetAtMs ?? now, seenAt: now, startedAt: answer.startedAt };
		this.recordOthers(now, others, last === undefined);
	}

	/** The key's rate in requests per second: its limit when known, else the default Vibecode gives keys. */
	perSecond(): number {
		return (this.limit ?? DEFAULT_PER_MINUTE) / (this.clock.windowMs / 1000);
	}

	/**
	 * The spacing of this process's starts now: its share of the key's limit (or of the caller's
	 * pace, before the limit is known), and the cap when that is slower. Others take their share of
	 * the key, not of the cap: a cap far below the key's limit leaves them room already.
	 */
	intervalMs(asked: Asked, now: number): number {
		const shared = this.sharedIntervalMs(asked, now);
		return asked.capped ? Math.max(asked.intervalMs, shared) : shared;
	}

	/** Others take part of the key's rate lately, and that, not the cap, holds this process's pace. */
	othersTakePart(asked: Asked, now: number): boolean {
		return this.share(now) < 1 && !this.capHolds(asked, now);
	}

	/** The caller's cap, not the key's limit or others' use of it, spaces its starts. */
	capHolds(asked: Asked, now: number): boolean {
		return asked.capped === true && this.limit !== undefined && asked.intervalMs > this.sharedIntervalMs(asked, now);
	}

	/** When the key's window has room for one more request as far as this process knows; undefined: wait for an answer. */
	roomAt(now: number, inFlight: number): number | undefined {
		const seen = this.seen;
		if (!seen) return 0;
		const since = this.startsBetween(seen.seenAt, now);
		// A reset still ahead when the answer came has freed room once it passed; a Reset of 0 frees nothing.
		const freed = seen.resetAtMs > seen.seenAt && now >= seen.resetAtMs ? 1 : 0;
		// Others may have taken room since the answer: as many as their pace gives them.
		const takenByOthers = Math.ceil(this.othersPace(now) * (now - seen.seenAt));
		if (seen.remaining - since - takenByOthers + freed >= 1) return 0;
		if (seen.resetAtMs > now) return seen.resetAtMs;
		// The reset has passed and its room was taken: the next answer tells more; with none
		// awaited, one request goes and asks.
		return inFlight > 0 ? undefined : 0;
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

	/** The spacing the key leaves this process: its limit with the margin (the caller's pace until known), over this process's share. */
	private sharedIntervalMs(asked: Asked, now: number): number {
		const keyInterval = this.limit === undefined ? asked.intervalMs : (this.clock.windowMs / this.limit) * PACE_MARGIN;
		return keyInterval / this.share(now);
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
}
