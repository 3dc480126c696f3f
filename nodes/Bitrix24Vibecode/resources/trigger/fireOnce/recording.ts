import { logStoreFailure, lookAndRecord, remove, settle, type OnceStore } from './store';

// The recording half of a run's Fire Once claims: the answers of its fires and the values its
// looks added, removed from n8n's store in batches; a claim counts as open until its answer is
// written. What the store's values mean: ./store.ts.

/** Looks at a removal that late writes of other processes keep putting back. */
const REMOVAL_LOOKS = 5;

/** Values removed together, with the attempt's mark among them: the mark back means a late write put them all back. */
interface Removal {
	mark: string;
	values: string[];
	/** A key that was sent and stays: a late write that erased it is undone by recording it again. */
	sent?: string;
}

export class Recorder {
	/** Claims of the run whose answer is not recorded yet. */
	private openClaims = 0;
	/** Removed with the next write: answers, and what looking at others' keys added. */
	private removals: Removal[] = [];
	/** Fires answered since the last write (their claims close with the next one). */
	private answers = 0;
	private recording?: Promise<void>;

	/** `batch`: answers written together; `recorded`: called when a write closed claims. */
	constructor(private readonly once: OnceStore, private readonly batch: number, private readonly recorded: () => void) {}

	get open() {
		return this.openClaims;
	}

	/** Claims are being made: they count as open from now on. */
	opened(count: number) {
		this.openClaims += count;
	}

	/** An attempt that is not the run's claim after all: it closes now; what it added goes with the next write. */
	released(mark: string, values?: string[]) {
		this.openClaims--;
		if (values) this.removals.push({ mark, values });
	}

	/** A fire's answer: its claim's values are written with others', and the claim closes then; `sent`: the key it keeps. */
	answered(mark: string, values: string[], sent?: string) {
		this.removals.push({ mark, values, sent });
		this.answers++;
		this.flush();
	}

	/** Once every item is answered: the last outcomes recorded. */
	async close() {
		while (this.recording || this.removals.length) {
			this.flush(true);
			await this.recording;
		}
	}

	/**
	 * Writes the answers and removals in one call: once a batch of fires is answered, or when
	 * nothing of the run is in flight; `all`: whatever is left.
	 */
	flush(all = false) {
		const inFlight = this.openClaims - this.answers;
		if (this.recording || !this.removals.length) return;
		if (!all && this.answers < this.batch && inFlight > 0) return;
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
			this.openClaims -= closing;
			this.recording = undefined;
			this.flush();
			this.recorded();
		})();
	}

	/**
	 * A settle after a removal, every write that read the row before it has landed: a mark back
	 * means such a write put back all the values removed with it, which are removed again. The
	 * look records the marks that were gone: they are removed too, as values of no key. It records
	 * the sent keys too: a write that read the row before their claim and landed after it erased
	 * them, and a later execution would find them free and fire them again.
	 */
	private async lookAgain(removals: Removal[], look = 1): Promise<void> {
		if (!removals.length) return;
		await settle(this.once);
		try {
			const sent = removals.flatMap((removal) => (removal.sent === undefined ? [] : [removal.sent]));
			const there = await lookAndRecord(this.once, [...removals.map((removal) => removal.mark), ...sent]);
			const back = removals.filter((removal) => there.has(removal.mark));
			const gone = removals.filter((removal) => !there.has(removal.mark)).map((removal) => removal.mark);
			await remove(this.once, [...back.flatMap((removal) => removal.values), ...gone]);
			if (look < REMOVAL_LOOKS) await this.lookAgain(back, look + 1);
		} catch (error) {
			logStoreFailure(this.once, error);
		}
	}
}
