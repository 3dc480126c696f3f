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
/** A portal left alone this long has drained its bucket (a standard one's burst of 50 in 25 s): the rate starts afresh. */
const RESTED_MS = 30_000;

/**
 * How much of the key's rate the portal behind it takes now. A portal or gateway that struggles
 * (502, 503, 504, answers slowing sharply) halves the rate and the requests in flight, which then
 * grow back by a little with every healthy answer (additive increase, multiplicative decrease, as
 * TCP does).
 */
export class Congestion {
	/** The share of the key's rate and of the requests in flight the portal takes now (1: all of it). */
	factor = 1;

	private lastCutAt = -Infinity;
	private lastAnswerAt = -Infinity;

	/**
	 * How long the last answers took, per kind of request. Slow answers count too, so that a
	 * lasting change (a slower network) becomes the new normal after a while.
	 */
	private readonly latency = new Map<string, number[]>();

	/**
	 * Learns from an answer (the pacer's Answer) at `now`, the key's rate being `perSecond`. Returns
	 * how long nobody should start after a cut, to let the portal drain; undefined: no cut.
	 */
	observe(answer: { startedAt: number; kind: string; overloaded: boolean }, now: number, perSecond: number): number | undefined {
		this.lastAnswerAt = now;
		const latencyMs = now - answer.startedAt;
		const recent = this.latency.get(answer.kind) ?? [];
		this.latency.set(answer.kind, recent);
		const fastest = Math.min(...recent);
		const slow = recent.length >= LATENCY_MIN_SAMPLES && latencyMs > Math.max(SLOW_FACTOR * fastest, fastest + SLOW_EXTRA_MS);
		recent.push(latencyMs);
		if (recent.length > LATENCY_SAMPLES) recent.shift();
		if (answer.overloaded || slow) {
			if (now - this.lastCutAt < CUT_QUIET_MS) return undefined;
			this.factor = Math.max(MIN_FACTOR, this.factor * BACK_OFF);
			this.lastCutAt = now;
			return Math.min(MAX_CUT_PAUSE_MS, (CUT_PAUSE_INTERVALS * 1000) / perSecond);
		}
		if (this.factor < 1) this.factor = Math.min(1, this.factor + GROW_PER_ANSWER / perSecond);
		return undefined;
	}

	/**
	 * A request is about to start at `now`: after half a minute without answers the portal had time
	 * to drain, and a back-off from an overload long past (an earlier run's) no longer holds.
	 */
	resume(now: number) {
		if (now - this.lastAnswerAt >= RESTED_MS) this.factor = 1;
	}

	/** Requests that may be in flight at once, of the caller's `maxInFlight`. */
	inFlightOf(maxInFlight: number): number {
		return Math.max(1, Math.floor(maxInFlight * this.factor));
	}
}
