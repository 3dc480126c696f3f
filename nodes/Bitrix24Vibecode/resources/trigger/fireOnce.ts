import type { DeduplicationHelperFunctions, ICheckProcessedOptions, INode } from 'n8n-workflow';

import { systemClock } from '../../transport/clock';
import { invalidValue } from './errors';
import type { FireInput } from './fireInput';
import type { Run } from './run';

// Fire Once Across Executions keeps the keys a node fired in n8n's deduplication store, the
// one Remove Duplicates keeps its history in: one row per node in n8n's database, shared by
// the main process and every queue-mode worker. A call reads the row, changes it and writes
// the whole row back, not atomically: a write can erase what another call wrote after this
// call's read (a lost update). So:
// - in one n8n process the node's calls on a row wait for each other (`inTurn`): two of its
//   executions there never both see a key as new, and never erase each other's keys;
// - across processes, each execution records with every key a mark of its own, in the same
//   write (`recordKeys`), and looks again `settleMs` later, longer than any read-then-write
//   takes, so every write that could erase its own has landed (`confirmKeys`): its mark there
//   means the key is its own; the key there without its mark means another process recorded
//   the key at the same moment and fires it; neither means another key's write erased both,
//   and the check has just recorded them again, to be confirmed in the next round. A fire waits
//   for that answer. Forgotten keys are removed twice, `settleMs` apart, for the same reason.
// The marks take room in the row: it holds twice the keys the user asked for.

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
	/** This run's mark, recorded beside each of its keys. */
	markOf(key: string): string;
}

export function onceStoreOf(run: Run): OnceStore | undefined {
	const helpers = (run.context as { helpers?: Partial<Store> }).helpers;
	if (typeof helpers?.checkProcessedAndRecord !== 'function' || typeof helpers.removeProcessed !== 'function') return undefined;
	const mark = `${run.context.getExecutionId() ?? ''}:${Math.random().toString(36).slice(2)}`;
	return {
		row: `${run.context.getWorkflow().id ?? ''}\n${run.node.id}`,
		store: helpers as Store,
		options: { mode: 'entries', maxEntries: 2 * run.options.fireOnceMaxKeys },
		slowestMs: 0,
		markOf: (key) => `${key}\n${mark}`,
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

/** Records the keys, each with the run's mark; returns those an earlier or concurrent execution of the node holds already. */
export async function recordKeys(once: OnceStore, keys: string[]): Promise<Set<string>> {
	if (!keys.length) return new Set();
	const recorded = [...keys, ...keys.map(once.markOf)];
	const { processed } = await call(once, async (store) => await store.checkProcessedAndRecord(recorded, SCOPE, once.options));
	return new Set(processed.map(String));
}

/** Whose a recorded key turned out to be; 'unsure' when other processes' writes kept erasing it. */
export type Confirmed = 'mine' | 'another' | 'unsure';

/** After `recordKeys`: whose each key is, once every write that could have erased it has landed (see above). */
export async function confirmKeys(once: OnceStore, keys: string[]): Promise<Map<string, Confirmed>> {
	const confirmed = new Map<string, Confirmed>();
	let pending = keys;
	for (let round = 0; round < MAX_SETTLE_ROUNDS && pending.length; round++) {
		await systemClock.sleep(settleMs(once));
		const looked = [...pending.map(once.markOf), ...pending];
		const there = new Set((await call(once, async (store) => await store.checkProcessedAndRecord(looked, SCOPE, once.options))).processed.map(String));
		for (const key of pending) {
			if (there.has(once.markOf(key))) confirmed.set(key, 'mine');
			else if (there.has(key)) confirmed.set(key, 'another');
		}
		pending = pending.filter((key) => !confirmed.has(key));
	}
	for (const key of pending) confirmed.set(key, 'unsure');
	return confirmed;
}

/**
 * Forgets the keys of fires that did not reach Bitrix24, so that a later execution sends them;
 * twice, `settleMs` apart, since a write of another process that read the row before the
 * removal would write the keys back. A failure of the store here is logged: it cannot undo the
 * fires of the run.
 */
export async function forgetKeys(run: Run, once: OnceStore, keys: string[]): Promise<void> {
	if (!keys.length) return;
	const forgotten = [...keys, ...keys.map(once.markOf)];
	const forget = async () => await call(once, async (store) => await store.removeProcessed(forgotten, SCOPE, once.options));
	try {
		await forget();
		await systemClock.sleep(settleMs(once));
		await forget();
	} catch (error) {
		run.context.logger?.warn(
			`Fire Once Across Executions, node "${run.node.name}": n8n's deduplication store failed to forget fires that were not sent: ${(error as Error).message}`,
		);
	}
}

const settleMs = (once: OnceStore) => Math.max(SETTLE_MS, 4 * once.slowestMs);
