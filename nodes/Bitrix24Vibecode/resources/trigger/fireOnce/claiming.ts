import { fireOnceStoreError, fireOnceUnansweredError, fireOnceUnconfirmedError, SKIPPED_EARLIER } from '../../../errors';
import { systemClock } from '../../../transport/clock';
import { cancelled, failed, neverReached, type Item, type Outcome } from '../item';
import type { Claims, Run } from '../run';
import { Recorder } from './recording';
import { keyState, lookAndRecord, lookWaitMs, pendingOf, type OnceStore } from './store';

// The claiming half of a run's Fire Once claims: each item's key is claimed in n8n's store just
// before its fire, in batches, so that a process that dies in the middle of a run leaves at most
// twice "Max Concurrent Requests" keys claimed without an answer: those a later execution reports
// as "may have fired"; every key it never claimed is free to fire. The answers are written by
// ./recording.ts. What the store's values mean and why a claim is looked at twice: ./store.ts.

/** Looks at a claim that other processes' writes keep erasing, 1, 2, 3 … short settles apart (a burst of writes passes), before the item fails unsent. */
const CONFIRM_ROUNDS = 8;
/** Looks at a key another execution holds, 1, 2, 4 … short settles apart (about 4 s), before it is reported unanswered. */
const HELD_LOOKS = 7;

/** What a look at the store found for an attempt to claim a key. */
type Verdict = 'mine' | 'fired' | 'held' | 'unsure' | 'stopped' | { failure: unknown };

interface Attempt {
	item: Item;
	/** Marks this attempt's claim: a new one each time the item looks again. */
	mark: string;
	done(verdict: Verdict): void;
}

export class ClaimWindow implements Claims {
	private readonly queue: Attempt[] = [];
	private claiming = false;
	/** Settles once the batches claimed so far are confirmed: a batch's items fire after the earlier batches' ones. */
	private confirmedSoFar: Promise<void> = Promise.resolve();
	private readonly marks = new Map<Item, string>();
	private looks = 0;
	private pumpDue = false;
	private readonly recorder: Recorder;

	/** `limit`: claims of the run open at once, answers not recorded yet. */
	constructor(
		private readonly run: Run,
		private readonly once: OnceStore,
		private readonly limit: number,
	) {
		this.recorder = new Recorder(once, run.options.maxConcurrent, () => this.pump());
	}

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
				item.outcome = this.claimOutcome(item, verdict);
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
		if (!item.outcome) this.recorder.answered(mark, [mark]);
		else if (neverReached(item)) this.recorder.answered(mark, [pendingOf(key), mark, key]);
		else this.recorder.answered(mark, [pendingOf(key), mark], key);
	}

	async close() {
		await this.recorder.close();
	}

	private claimOutcome(item: Item, verdict: Exclude<Verdict, 'mine'>): Outcome {
		const { node } = this.run;
		if (verdict === 'stopped') return cancelled(node, item.itemIndex);
		if (verdict === 'fired') return { skipped: SKIPPED_EARLIER };
		if (verdict === 'held') return failed(fireOnceUnansweredError(node, item.itemIndex, { key: item.onceKey as string, input: item.input }), true);
		if (verdict === 'unsure') return failed(fireOnceUnconfirmedError(node, item.itemIndex));
		return failed(fireOnceStoreError(node, item.itemIndex, verdict.failure));
	}

	/** What a claim's first look means: sent before; claimed by another execution; or this attempt's to confirm. */
	private firstLook(attempt: Attempt, there: Set<string>): 'fired' | 'held' | 'tentative' {
		const state = keyState(there, attempt.item.onceKey as string);
		if (state === 'fired') return 'fired';
		return state === 'claimed' && !attempt.item.fireUnanswered ? 'held' : 'tentative';
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
		const room = this.limit - this.recorder.open;
		if (this.claiming || !this.queue.length || room < Math.min(this.queue.length, this.run.options.maxConcurrent)) return;
		void this.claim(this.queue.splice(0, room));
	}

	private async claim(batch: Attempt[]) {
		this.claiming = true;
		this.recorder.opened(batch.length);
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
			const look = this.firstLook(attempt, there);
			// Asking added "pending" to a key that was sent: it is removed again.
			if (look === 'fired') this.release(attempt, 'fired', [pendingOf(attempt.item.onceKey as string), attempt.mark]);
			else if (look === 'held') this.release(attempt, 'held', [attempt.mark]);
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
			const look = this.firstLook(attempt, there);
			this.release(attempt, look === 'tentative' ? 'mine' : look, [key, pendingOf(key), attempt.mark].filter((value) => !there.has(value)));
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
				const state = keyState(there, key);
				if (there.has(attempt.mark) && state === 'claimed') mine.push(attempt);
				else if (!there.has(attempt.mark) && state !== 'free') {
					// Another execution claimed the key at the same moment; its write erased this one.
					this.release(attempt, state === 'claimed' ? 'held' : 'fired', state === 'claimed' ? [attempt.mark] : [pendingOf(key), attempt.mark]);
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
		this.recorder.released(attempt.mark, values);
		attempt.done(verdict);
		this.recorder.flush();
		this.pump();
	}
}
