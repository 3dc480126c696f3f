import type { DeduplicationHelperFunctions, ICheckProcessedOptions } from 'n8n-workflow';

import { systemClock } from '../../../transport/clock';
import { ProcessCache } from '../../../transport/processCache';
import type { Run } from '../run';

// Fire Once Across Executions keeps its record in n8n's deduplication store, the one Remove
// Duplicates keeps its history in: one row per node in n8n's database, shared by the main
// process and every queue-mode worker. The store only answers "was this value there?", and
// records every value it is asked about; a call reads the row, changes it and writes the whole
// row back, not atomically. So a key's state is told by which of its values are there:
// - the key alone: a fire for it was sent (it fired, or the answer was unclear);
// - the key and its "pending" value: an execution claimed it and has not recorded Bitrix24's
//   answer yet — it is firing now, or its process died. A claim records both in one write,
//   so they appear together; the answer removes "pending".
// Asking about a key records it, and its "pending" value with it: asking can only turn a
// sent key into an unanswered one until the asker removes "pending" again, never the other way,
// so no question makes a key look sent that was not.
// Against lost updates (a write of another process that read the row before this one's write):
// - in one n8n process the node's calls on a row wait for each other (`inTurn`);
// - across processes, a claim records with the key a mark of its own, and the claimer looks
//   again `settleMs` later, longer than any read-then-write takes, so every write that could
//   erase its claim has landed: key, pending and its mark all there means the key is its own;
//   the key there without its mark means another execution claimed it at the same moment.
//   A removal can be undone the same way (a late write puts the values back), so the claim's
//   mark is removed with them and looked at `settleMs` later: back means all of them are back,
//   and they are removed again.

/** Scope 'node': the row is the node's own (by node id: it survives a rename), not shared with Remove Duplicates. */
const SCOPE = 'node';
const SETTLE_MS = 60;
/** Values a claim holds besides its key while it is open: "pending" and a mark or two. */
const CLAIM_ROOM = 3;

type Store = Pick<DeduplicationHelperFunctions, 'checkProcessedAndRecord' | 'removeProcessed'>;

// The store's calls per row, in this process: the one memory that must span runs, as the key's
// pacer does. An entry is dropped when its last call is done.
const rows = new Map<string, Promise<unknown>>();
// How long a call on a row took lately in this process (the slowest, halving with each call
// after it): a run's first look waits out what other runs here saw, since other processes' calls
// on the same database are as slow. It halves because one slow call (a process's first, a busy
// moment) must not stretch every wait for long: the waits below are counted in it.
const callMs = new ProcessCache<string, number>();

async function inTurn<T>(row: string, call: () => Promise<T>): Promise<T> {
	const before = rows.get(row) ?? Promise.resolve();
	const mine = before.then(call, call);
	const tail = mine.then(
		() => undefined,
		() => undefined,
	);
	rows.set(row, tail);
	void tail.then(() => rows.get(row) === tail && rows.delete(row));
	return await mine;
}

/** The node's row of n8n's store, or undefined where n8n gives the node none (AI Agent 2.2 and older call tools without it). */
export interface OnceStore {
	row: string;
	store: Store;
	options: ICheckProcessedOptions;
	/** Marks a claim of this run: unique per run and attempt, so that an old attempt's mark never confirms a new one. */
	markOf(key: string, attempt: number): string;
	run: Pick<Run, 'context' | 'node'>;
}

export function onceStoreOf(run: Run, claimsOpen: number): OnceStore | undefined {
	const helpers = (run.context as { helpers?: Partial<Store> }).helpers;
	if (typeof helpers?.checkProcessedAndRecord !== 'function' || typeof helpers.removeProcessed !== 'function') return undefined;
	const mark = `${run.context.getExecutionId() ?? ''}:${Math.random().toString(36).slice(2)}`;
	return {
		row: `${run.context.getWorkflow().id ?? ''}\n${run.node.id}`,
		store: helpers as Store,
		// The keys asked for, plus room for the values of the claims open at once.
		options: { mode: 'entries', maxEntries: run.options.fireOnceMaxKeys + CLAIM_ROOM * claimsOpen },
		markOf: (key, attempt) => `${key}\n${mark}:${attempt}`,
		run,
	};
}

export const pendingOf = (key: string) => `${key}\npending`;

/**
 * What the values there say of a key (the encoding above): never sent ('free'); sent ('fired');
 * claimed and not answered ('claimed': firing now, or its process died).
 */
export function keyState(there: Set<string>, key: string): 'free' | 'fired' | 'claimed' {
	if (!there.has(key)) return 'free';
	return there.has(pendingOf(key)) ? 'claimed' : 'fired';
}

/** One call on the row, in turn; retried once, since the first write of a new row can lose a race with another process's. */
async function call<T>(once: OnceStore, work: (store: Store) => Promise<T>): Promise<T> {
	return await inTurn(once.row, async () => {
		const started = systemClock.now();
		try {
			return await work(once.store);
		} catch {
			return await work(once.store);
		} finally {
			callMs.set(once.row, Math.max(systemClock.now() - started, 0.5 * (callMs.get(once.row) ?? 0)));
		}
	});
}

/** Records `values` (each asked about: recording is what the store does); returns those that were there before. */
export async function lookAndRecord(once: OnceStore, values: string[]): Promise<Set<string>> {
	if (!values.length) return new Set();
	const { processed } = await call(once, async (store) => await store.checkProcessedAndRecord(values, SCOPE, once.options));
	return new Set(processed.map(String));
}

export async function remove(once: OnceStore, values: string[]): Promise<void> {
	if (values.length) await call(once, async (store) => await store.removeProcessed(values, SCOPE, once.options));
}

/** How long a look waits for every write that could erase a claim to land: longer than any call seen takes. */
const settleMs = (once: OnceStore) => Math.max(SETTLE_MS, 4 * (callMs.get(once.row) ?? 0));

/**
 * The wait before a look at a key: `step` shortest settles (the step grows with each look), and
 * never less than a settle. Counting the growth from the settle itself would stretch
 * a slow store's waits by the same factor (a 2 s settle × 127 is four minutes).
 */
export const lookWaitMs = (once: OnceStore, step: number) => Math.max(settleMs(once), SETTLE_MS * step);

export const settle = async (once: OnceStore) => await systemClock.sleep(settleMs(once));

/** A failed removal cannot undo what the run did: it is logged, and the values stay (a later execution sees them as unanswered). */
export function logStoreFailure(once: OnceStore, error: unknown) {
	once.run.context.logger?.warn(
		`Fire Once Across Executions, node "${once.run.node.name}": n8n's deduplication store failed to record an outcome: ${(error as Error).message}`,
	);
}
