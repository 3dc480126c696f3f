import type { IDataObject } from 'n8n-workflow';

import { FAST } from './helpers';
import { MemoryDeduplicationStore, registerDeduplicationStore } from './harness/deduplication';
import { loadPackage } from './harness/loadPackage';
import type { RunResult } from './harness/runWorkflow';
import { firedTwice, freshKey, ids } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';

// Queue-mode workers are n8n processes that share n8n's deduplication store through the
// database and nothing in memory. Here two jest module registries stand for two processes:
// each loads its own n8n-core and its own copy of the node (its own turns on the store), and
// both are given the one store, which is not atomic (./harness/deduplication). Oracle: issue
// 17 — "executions on different workers recording different keys at the same time must not
// erase each other's keys"; 40 different keys at once over two workers, then all 40 again,
// fire 40 times (a version without the check after the fires fired 44 in a real n8n); the same
// key delivered to both at the same moment fires once. The races within one process are here
// too (moved from fireOnce.test.ts): in real time, as the store's turns and the node's waits
// interleave in n8n; the event clock of fireOnce.test.ts would line them up.
const box = useSandbox();
const store = registerDeduplicationStore(new MemoryDeduplicationStore());
const worker: { fireAt: typeof fireAt; loadPackage: typeof loadPackage } = {} as never;

beforeAll(async () => {
	await jest.isolateModulesAsync(async () => {
		(await import('./harness/deduplication')).registerDeduplicationStore(store);
		worker.fireAt = (await import('./sandboxRun')).fireAt;
		worker.loadPackage = (await import('./harness/loadPackage')).loadPackage;
		// Loads the package into this registry while it is the one jest requires from.
		await worker.loadPackage();
		await worker.fireAt(box.sandbox, [{ id: 1 }], { apiKey: freshKey(box.sandbox), options: FAST });
	});
});
// The previous test's last removals land a moment after its execution ended.
beforeEach(async () => {
	await store.quiet();
	store.clear();
});

const ONCE = { ...FAST, fireOnce: true };
const fired = () => box.sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b);

test('the two processes run two copies of the node', async () => {
	expect((await worker.loadPackage()).nodeType).not.toBe((await loadPackage()).nodeType);
});

test('40 different keys at once over two processes, then all 40 again, fire 40 times; no process erased the keys of the other', async () => {
	const apiKey = freshKey(box.sandbox);
	const onEither = async (item: IDataObject, index: number) =>
		await (index % 2 ? worker.fireAt : fireAt)(box.sandbox, [item], { apiKey, options: ONCE, onError: 'continueErrorOutput' });
	const first = await Promise.all(ids(40).map(onEither));
	for (const { id } of ids(40)) expect(store.holds(`deal:${id}:payment_received`)).toBe(true);
	const again = await Promise.all(ids(40).map(onEither));

	expect(fired()).toEqual(ids(40).map(({ id }) => id));
	expect(firedTwice(box.sandbox)).toEqual([]);
	expect(first.map((result) => result.main[0]?.json.success)).toEqual(Array(40).fill(true));
	expect(again.map((result) => result.main[0]?.json.skipped)).toEqual(Array(40).fill(true));
});

test('the same key delivered to both processes at the same moment, 20 times over: each key fires once, the other delivery says skipped', async () => {
	const apiKey = freshKey(box.sandbox);
	const options = { ...ONCE, fireOnceKey: '={{ $json.paymentId }}' };
	const answers = [];
	for (let round = 1; round <= 20; round++) {
		const delivery = [{ id: round, paymentId: `pay_${round}` }];
		const both = await Promise.all([fireAt, worker.fireAt].map(async (run) => await run(box.sandbox, delivery, { apiKey, options })));
		answers.push(both.map((result) => (result.main[0].json.success ? 'fired' : result.main[0].json.skipped ? 'skipped' : 'other')).sort());
	}

	expect(fired()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
	expect(answers).toEqual(Array(20).fill(['fired', 'skipped']));
});

test('one bulk execution in each process at once, different records: each keeps all its keys', async () => {
	const apiKey = freshKey(box.sandbox);
	await Promise.all([
		fireAt(box.sandbox, ids(30, 1), { apiKey, options: ONCE }),
		worker.fireAt(box.sandbox, ids(30, 31), { apiKey, options: ONCE }),
	]);
	const again = await Promise.all([
		worker.fireAt(box.sandbox, ids(30, 1), { apiKey, options: ONCE }),
		fireAt(box.sandbox, ids(30, 31), { apiKey, options: ONCE }),
	]);

	expect(fired()).toEqual(ids(60).map(({ id }) => id));
	expect(again.flatMap((result) => result.main.map((item) => item.json.skipped))).toEqual(Array(60).fill(true));
});

describe('executions at the same time in one process', () => {
	const execution = async (items: IDataObject[], apiKey: string) =>
		await fireAt(box.sandbox, items, { apiKey, options: ONCE, onError: 'continueErrorOutput' });
	const firedIds = (result: RunResult) => result.main.filter((item) => item.json.success === true).map((item) => item.json.entityId);

	test('in one n8n process, executions with the same records at once fire each record once; every item ends as one output item', async () => {
		const apiKey = freshKey(box.sandbox);
		// The node's row exists already: the first writes of a new row race differently (a duplicate key, tried again).
		await execution([{ id: 100 }], apiKey);
		const results = await Promise.all(Array.from({ length: 6 }, async () => await execution(ids(5), apiKey)));

		expect(fired()).toEqual([1, 2, 3, 4, 5, 100]);
		expect(firedTwice(box.sandbox)).toEqual([]);
		for (const result of results) expect(result.main).toHaveLength(5);
		expect(results.flatMap(firedIds).sort()).toEqual([1, 2, 3, 4, 5]);
	});

	test('in one process, 40 single-key executions at once and then the same 40 again fire 40 times; the store keeps all 40 keys', async () => {
		const apiKey = freshKey(box.sandbox);
		const deliver = async () => await Promise.all(ids(40).map(async (item) => await execution([item], apiKey)));
		await deliver();
		await deliver();

		expect(fired()).toEqual(ids(40).map(({ id }) => id));
		for (const { id } of ids(40)) expect(store.holds(`deal:${id}:payment_received`)).toBe(true);
	});
});
