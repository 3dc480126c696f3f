import { systemClock } from '../../transport/clock';
import {
	cancelledError,
	fireOnceStoreError,
	fireOnceUnansweredError,
	fireOnceUnavailableError,
	fireOnceUnconfirmedError,
	SKIPPED_EARLIER,
	skippedSameKey,
} from './errors';
import { logStoreFailure, lookAndRecord, lookWaitMs, onceStoreOf, pendingOf, remove, settle, type OnceStore } from './fireOnce';
import { failed, neverReached, unsettled, type Item, type Outcome } from './item';
import type { Run } from './run';

// The claim stage of Fire Trigger's run, for "Fire Once Across Executions": each item's key is
// claimed in n8n's store just before its fire, and the answer recorded soon after, so that a
// process that dies in the middle of a run leaves at most twice "Max Concurrent Requests" keys
// claimed without an answer: those a later execution reports as "may have fired"; every key it
// never claimed is free to fire. Claims, looks and answers go to the store in batches.
// What the store's values mean and why a claim is looked at twice: ./fireOnce.ts.

/** Looks at a claim that other processes' writes keep erasing, 1, 2, 3 … short settles apart (a burst of writes passes), before the item fails unsent. */
const CONFIRM_ROUNDS = 8;
/** Looks at a key another execution holds, 1, 2, 4 … short settles apart (about 4 s), before it is reported unanswered. */
const HELD_LOOKS = 7;
/** Looks at a removal that late writes of other processes keep putting back. */
const REMOVAL_LOOKS = 5;

/** What a look at the store found for an attempt to claim a key. */
type Verdict = 'mine' | 'fired' | 'held' | 'unsure' | 'stopped' | { failure: unknown };

/** Values removed together, with the attempt's mark among them: the mark back means a late write put them all back. */
interface Removal {
	mark: string;
	values: string[];
}

interface Attempt {
	item: Item;
	/** Marks this attempt's claim: a new one each time the item looks again. */
	mark: string;
	done(verdict: Verdict): void;
}

export interface Claims {
	/** Claims the item's key in its turn: true when the item is to be fired; otherwise the item has its outcome. */
	take(item: Item): Promise<boolean>;
	/** The item's fire has its outcome: it is recorded with others' in one write. */
	answered(item: Item): void;
	/** Once every item is answered: the last outcomes recorded. */
	close(): Promise<void>;
}

/**
 * Opens the claims of a run with "Fire Once Across Executions" on. An item whose key an earlier
 * item of the run has is skipped at once; where n8n gives the node no store, every item fails unsent.
 */
export function openClaims(run: Run, items: Item[]): Claims | undefined {
	if (!run.options.fireOnce) return undefined;
	const first = new Map<string, Item>();
	for (const item of unsettled(items)) {
		const earlier = first.get(item.onceKey as string);
		if (earlier) item.outcome = { skipped: skippedSameKey(earlier.itemIndex) };
		else first.set(item.onceKey as string, item);
	}
	const limit = 2 * run.options.maxConcurrent;
	const once = first.size ? onceStoreOf(run, limit) : undefined;
	if (once) return new ClaimWindow(run, once, limit);
	for (const item of first.values()) item.outcome = failed(fireOnceUnavailableError(run.node, item.itemIndex));
	return undefined;
}

class ClaimWindow implements Claims {
	private readonly queue: Attempt[] = [];
	/** Claims of the run whose answer is not recorded yet: never more than `limit`. */
	private open = 0;
	private claiming = false;
	/** Settles once the batches claimed so far are confirmed: a batch's items fire after the earlier batches' ones. */
	private confirmedSoFar: Promise<void> = Promise.resolve();
	/** Removed with the next write: answers, and what looking at others' keys added. */
	private removals: Removal[] = [];
	/** Fires answered since the last write (their claims close with the next one). */
	private answers = 0;
	private recording?: Promise<void>;
	private readonly marks = new Map<Item, string>();
	private looks = 0;
	private pumpDue = false;

	constructor(
		private readonly run: Run,
		private readonly once: OnceStore,
		private readonly limit: number,
	) {}

	async take(item: Item): Promise<boolean> {
		for (let look = 0; ; look++) {
			const mark = this.once.markOf(item.onceKey as string, this.looks++);
			const verdict = await new Promise<Verdict>((done) => {
				this.queue.push({ item, mark, done });
				this.pumpSoon();
			});
			if (verdict === 'mine') return true;
			// A rehearsal reports a held key at once: it waits for nobody's answer.
			if (verdict !== 'held' || look + 1 >= HELD_LOOKS || this.run.options.rehearse) {
				item.outcome = this.outcomeOf(item, verdict);
				return false;
			}
			// Another execution holds the key: its answer is usually recorded within a settle or two.
			await systemClock.sleep(lookWaitMs(this.once, 2 ** look));
		}
	}

	answered(item: Item) {
		const key = item.onceKey as string;
		const mark = this.marks.get(item) as string;
		// A fire that reached Bitrix24, or may have, keeps its key; one that did not frees it; one
		// whose fire broke off without an outcome stays claimed, unanswered: it may have been sent.
		const values = !item.outcome ? [mark] : [pendingOf(key), mark, ...(neverReached(item) ? [key] : [])];
		this.removals.push({ mark, values });
		this.answers++;
		this.flush();
	}

	async close() {
		while (this.recording || this.removals.length) {
			this.flush(true);
			await this.recording;
		}
	}

	private outcomeOf(item: Item, verdict: Exclude<Verdict, 'mine'>): Outcome {
		const { node } = this.run;
		if (verdict === 'stopped') return { error: cancelledError(node, item.itemIndex), mayHaveFired: false, notSent: true };
		if (verdict === 'fired') return { skipped: SKIPPED_EARLIER };
		if (verdict === 'held') return failed(fireOnceUnansweredError(node, item.itemIndex, { key: item.onceKey as string, input: item.input }), true);
		if (verdict === 'unsure') return failed(fireOnceUnconfirmedError(node, item.itemIndex));
		return failed(fireOnceStoreError(node, item.itemIndex, verdict.failure));
	}

	/** Pumps once the items the run hands over together are all waiting: they share one write. */
	private pumpSoon() {
		if (this.pumpDue) return;
		this.pumpDue = true;
		void Promise.resolve().then(() => {
			this.pumpDue = false;
			this.pump();
		});
	}

	/** Claims the waiting keys in one write when the window has room for a batch (or for all that wait). */
	private pump() {
		// A stopped run claims nothing more: what waits is not sent.
		if (this.run.stopped) for (const attempt of this.queue.splice(0)) attempt.done('stopped');
		const room = this.limit - this.open;
		if (this.claiming || !this.queue.length || room < Math.min(this.queue.length, this.run.options.maxConcurrent)) return;
		void this.claim(this.queue.splice(0, room));
	}

	private async claim(batch: Attempt[]) {
		this.claiming = true;
		this.open += batch.length;
		const values = batch.flatMap(({ item, mark }) => [item.onceKey as string, pendingOf(item.onceKey as string), mark]);
		const there = await lookAndRecord(this.once, values).catch((failure: unknown) => ({ failure }));
		this.claiming = false;
		if (!(there instanceof Set)) {
			// Nothing is known of what the write did: nothing is removed, the keys may stay claimed.
			for (const attempt of batch) this.release(attempt, there);
			return;
		}
		if (this.run.options.rehearse) {
			this.rehearse(batch, there);
			return;
		}
		const tentative: Attempt[] = [];
		for (const attempt of batch) {
			const key = attempt.item.onceKey as string;
			const pending = pendingOf(key);
			// Asking added "pending" to a key that was sent: it is removed again.
			if (there.has(key) && !there.has(pending)) this.release(attempt, 'fired', [pending, attempt.mark]);
			else if (there.has(key) && !attempt.item.fireUnanswered) this.release(attempt, 'held', [attempt.mark]);
			else tentative.push(attempt);
		}
		this.pump();
		// Items start in input order: a batch whose look comes back sooner waits for the batch before it.
		const earlier = this.confirmedSoFar;
		let confirmed = () => {};
		this.confirmedSoFar = new Promise<void>((resolve) => (confirmed = resolve));
		try {
			await this.confirm(tentative, earlier);
		} finally {
			confirmed();
		}
	}

	/**
	 * A rehearsal's one look: the verdict a real claim would start from ('mine': it would fire), and
	 * everything the look added to the store is removed again (the mark with it, looked at again
	 * like any removal), so that a later real run finds the store as it was.
	 */
	private rehearse(batch: Attempt[], there: Set<string>) {
		for (const attempt of batch) {
			const key = attempt.item.onceKey as string;
			const pending = pendingOf(key);
			const verdict = there.has(key) && !there.has(pending) ? 'fired' : there.has(key) && !attempt.item.fireUnanswered ? 'held' : 'mine';
			this.release(attempt, verdict, [key, pending, attempt.mark].filter((value) => !there.has(value)));
		}
	}

	/** A settle after the claim, every write that could erase it has landed: the key, its "pending" and the mark there means it is this run's. */
	private async confirm(attempts: Attempt[], earlier: Promise<void>) {
		let looking = attempts;
		for (let round = 0; round < CONFIRM_ROUNDS && looking.length; round++) {
			await systemClock.sleep(lookWaitMs(this.once, 1 + round));
			const values = looking.flatMap(({ item, mark }) => [mark, item.onceKey as string, pendingOf(item.onceKey as string)]);
			const there = await lookAndRecord(this.once, values).catch((failure: unknown) => ({ failure }));
			if (!(there instanceof Set)) {
				for (const attempt of looking) this.release(attempt, there, [attempt.mark]);
				return;
			}
			const erased: Attempt[] = [];
			const mine: Attempt[] = [];
			for (const attempt of looking) {
				const key = attempt.item.onceKey as string;
				const pending = pendingOf(key);
				if (there.has(attempt.mark) && there.has(key) && there.has(pending)) mine.push(attempt);
				else if (!there.has(attempt.mark) && there.has(key)) {
					// Another execution claimed the key at the same moment; its write erased this one.
					this.release(attempt, there.has(pending) ? 'held' : 'fired', there.has(pending) ? [attempt.mark] : [pending, attempt.mark]);
				} else erased.push(attempt); // another key's write erased the claim: this look recorded it again
			}
			if (mine.length) await earlier;
			for (const attempt of mine) {
				this.marks.set(attempt.item, attempt.mark);
				attempt.done('mine');
			}
			looking = erased;
		}
		// Its last look recorded the claim again, which is not confirmed: it is removed, so that a later run finds the key free.
		for (const attempt of looking) {
			const key = attempt.item.onceKey as string;
			this.release(attempt, 'unsure', [key, pendingOf(key), attempt.mark]);
		}
	}

	/** An attempt that is not this run's claim after all: it leaves the window, and what it added to the store is removed. */
	private release(attempt: Attempt, verdict: Verdict, values?: string[]) {
		this.open--;
		if (values) this.removals.push({ mark: attempt.mark, values });
		attempt.done(verdict);
		this.flush();
		this.pump();
	}

	/**
	 * Writes the answers and removals in one call: once a batch of fires is answered, or when
	 * nothing of the run is in flight; `all`: whatever is left.
	 */
	private flush(all = false) {
		const inFlight = this.open - this.answers;
		if (this.recording || !this.removals.length) return;
		if (!all && this.answers < this.run.options.maxConcurrent && inFlight > 0) return;
		const removals = this.removals;
		const closing = this.answers;
		this.removals = [];
		this.answers = 0;
		this.recording = (async () => {
			const removed = await remove(this.once, removals.flatMap((removal) => removal.values)).then(
				() => true,
				(error) => logStoreFailure(this.once, error),
			);
			// The look does not hold up the run or the execution: if it is lost, a later execution
			// reports such a key as "may have fired" instead of skipping it, and nothing fires twice.
			if (removed) void this.lookAgain(removals.filter((removal) => removal.values.length > 1));
			this.open -= closing;
			this.recording = undefined;
			this.flush();
			this.pump();
		})();
	}

	/**
	 * A settle after a removal, every write that read the row before it has landed: a mark back
	 * means such a write put back all the values removed with it, which are removed again. The
	 * look records the marks that were gone: they are removed too, as values of no key.
	 */
	private async lookAgain(removals: Removal[], look = 1): Promise<void> {
		if (!removals.length) return;
		await settle(this.once);
		try {
			const there = await lookAndRecord(this.once, removals.map((removal) => removal.mark));
			const back = removals.filter((removal) => there.has(removal.mark));
			const gone = removals.filter((removal) => !there.has(removal.mark)).map((removal) => removal.mark);
			await remove(this.once, [...back.flatMap((removal) => removal.values), ...gone]);
			if (look < REMOVAL_LOOKS) await this.lookAgain(back, look + 1);
		} catch (error) {
			logStoreFailure(this.once, error);
		}
	}
}
