import type { DeduplicationHelperFunctions, ICheckProcessedOptions, INode } from 'n8n-workflow';

import { systemClock } from '../../transport/clock';
import { invalidValue } from './errors';
import type { FireInput } from './fireInput';
import type { Run } from './run';

// Fire Once Across Executions keeps the keys a node fired in n8n's deduplication store, the
// one Remove Duplicates keeps its history in: one row per node in n8n's database, shared by
// the main process and every queue-mode worker. A call reads the row, changes it and writes
// the whole row back, not atomically. So:
// - in one n8n process the node's calls on a row wait for each other (`inTurn`): two
//   executions there never both see a key as new, and never erase each other's keys;
// - across processes a write can erase keys another process wrote a moment before (it read
//   the row before they were there). Every execution therefore checks its keys again after
//   `settleMs`, longer than such a read-then-write takes, and records them again when they are
//   gone, until a check finds them all (`keepKeys`). Forgotten keys are removed twice for the
//   same reason (`forgetKeys`).
// - two processes claiming the same key in the same instant both see it as new: the store
//   cannot exclude that (the README says how often it was measured to happen).

/** Scope 'node': the row is the node's own (by node id: it survives a rename), not shared with Remove Duplicates. */
const SCOPE = 'node';
const SETTLE_MS = 250;
const MAX_SETTLE_ROUNDS = 5;

type Store = Pick<DeduplicationHelperFunctions, 'checkProcessedAndRecord' | 'removeProcessed'>;

// The store's calls per row, in this process: the one memory that must span runs, as the key's
// pacer does. An entry is dropped when its last call is done.
const rows = new Map<string, Promise<unknown>>();

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
	/** The slowest call seen, so that a check waits out a slower one in another process. */
	slowestMs: number;
}

export function onceStoreOf(run: Run): OnceStore | undefined {
	const helpers = (run.context as { helpers?: Partial<Store> }).helpers;
	if (typeof helpers?.checkProcessedAndRecord !== 'function' || typeof helpers.removeProcessed !== 'function') return undefined;
	return {
		row: `${run.context.getWorkflow().id ?? ''}\n${run.node.id}`,
		store: helpers as Store,
		options: { mode: 'entries', maxEntries: run.options.fireOnceMaxKeys },
		slowestMs: 0,
	};
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
			once.slowestMs = Math.max(once.slowestMs, systemClock.now() - started);
		}
	});
}

/** An item's key: the option's value, or entity type, ID and trigger code when it is empty. */
export function onceKeyOf(node: INode, itemIndex: number, given: unknown, input: FireInput): string {
	const key = typeof given === 'number' && Number.isFinite(given) ? String(given) : typeof given === 'string' ? given.trim() : given;
	if (key === undefined || key === null || key === '') return `${input.entityType}:${input.entityId}:${input.triggerId}`;
	if (typeof key === 'string') return key;
	const why =
		'Fire Once Key must be text or a number that names the event, such as {{ $json.body.paymentId }}. Leave it empty to use entity type, entity ID and trigger code.';
	throw invalidValue(node, itemIndex, { field: 'Fire Once Key', value: given, why });
}

/** Records the keys; returns those an earlier or concurrent execution of the node holds already. */
export async function claimKeys(once: OnceStore, keys: string[]): Promise<Set<string>> {
	if (!keys.length) return new Set();
	const { processed } = await call(once, async (store) => await store.checkProcessedAndRecord(keys, SCOPE, once.options));
	return new Set(processed.map(String));
}

/**
 * Makes sure claimed keys stayed recorded: a write of another process that read the row before
 * the claim lands within one read-then-write, so a check `settleMs` later sees it, and records
 * the keys again; a check that finds them all is final. Runs while the claimed items are fired.
 * A failure of the store here cannot undo a fire; it is logged.
 */
export async function keepKeys(run: Run, once: OnceStore, keys: string[]): Promise<void> {
	try {
		for (let round = 0; round < MAX_SETTLE_ROUNDS && keys.length; round++) {
			await systemClock.sleep(settleMs(once));
			if ((await claimKeys(once, keys)).size === keys.length) return;
		}
		if (keys.length) warn(run, `keys were erased ${MAX_SETTLE_ROUNDS} times by other n8n processes' writes`);
	} catch (error) {
		warn(run, `n8n's deduplication store failed after the claim: ${(error as Error).message}`);
	}
}

/**
 * Forgets the keys of fires that did not reach Bitrix24, so that a later execution sends them;
 * twice, `settleMs` apart, since a write of another process that read the row before the
 * removal would write the keys back.
 */
export async function forgetKeys(run: Run, once: OnceStore, keys: string[]): Promise<void> {
	if (!keys.length) return;
	const forget = async () => await call(once, async (store) => await store.removeProcessed(keys, SCOPE, once.options));
	try {
		await forget();
		await systemClock.sleep(settleMs(once));
		await forget();
	} catch (error) {
		warn(run, `n8n's deduplication store failed to forget fires that were not sent: ${(error as Error).message}`);
	}
}

const settleMs = (once: OnceStore) => Math.max(SETTLE_MS, 4 * once.slowestMs);
const warn = (run: Run, text: string) => run.context.logger?.warn(`Fire Once Across Executions, node "${run.node.name}": ${text}`);
