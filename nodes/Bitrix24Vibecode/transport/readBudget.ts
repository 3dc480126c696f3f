/**
 * Every request of the key reaches the portal, whose bucket a standard Bitrix24 plan drains at
 * 2 a second, with bursts of 50, whatever the key allows (5 a second by default). A stream of
 * executions, each reading its record, firing and reading it back, asks for three times its
 * fires; sent as they come, they fill the bucket and the portal starts refusing, fires too.
 * Reads can wait where fires cannot: a read that waits takes others' waiting reads along
 * (resources/trigger/sharedSearch.ts), so the key's requests stay under what the portal drains.
 */

/** What all of the key's requests may take of a standard portal, sustained: 90 % of its 2 a second. */
const PER_SECOND = 1.8;
/** One execution's check, fire and read back go at once after a quiet moment. */
const CAPACITY = 3;
/** Fires never wait: past this debt the budget stops counting, so reads never wait long after a bulk run. */
const DEBT = 9;
/** A read waits at most this long for company: the share that reads always get, whatever fires take. */
export const MAX_READ_WAIT_MS = 5000;

/**
 * The key's sustained share of the portal, as a token bucket that every request started on the key
 * spends (a fire too, which never waits for it) and that a read which can wait for company waits for.
 */
export class ReadBudget {
	private tokens = CAPACITY;
	private at = -Infinity;

	/** A request of this process started on the key. */
	started(now: number) {
		this.refill(now);
		this.tokens = Math.max(-DEBT, this.tokens - 1);
	}

	/** How long a read gathered since `since` waits still before it goes: 0 when the budget has room or its wait is over. */
	waitMs(now: number, since: number): number {
		this.refill(now);
		const left = MAX_READ_WAIT_MS - (now - since);
		if (this.tokens >= 1 || left <= 0) return 0;
		return Math.min(left, Math.ceil(((1 - this.tokens) * 1000) / PER_SECOND));
	}

	private refill(now: number) {
		if (now > this.at) this.tokens = Math.min(CAPACITY, this.tokens + ((now - this.at) / 1000) * PER_SECOND);
		this.at = Math.max(this.at, now);
	}
}
