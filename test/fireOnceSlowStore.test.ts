import { details, FAST } from './helpers';
import { MemoryDeduplicationStore, registerDeduplicationStore } from './harness/deduplication';
import { delay, PACKAGE_ROOT } from './harness/system';
import { freshKey } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';

// A store call that is slow once (a worker's first call, a busy database) must not stretch the
// node's waits on the store for minutes: seen in the queue-mode e2e on a loaded machine, where
// a webhook delivered again met a key still claimed and its execution outlasted the caller's
// three-minute timeout. The node times the store's calls in real time, so this file runs in
// real time too; what is asserted is the waits the node asked for (recorded by the clock it is
// given), not how long anything took.
// Oracle: the README's "After a crash": a key another execution holds unanswered is reported
// "may have fired" once the node has looked a few times; a person waits seconds for that
// answer, not minutes: under half a minute of waits after a one-second store call.
jest.setTimeout(60_000);
const waits: number[] = [];
jest.doMock(`${PACKAGE_ROOT}/dist/nodes/Bitrix24Vibecode/transport/clock.js`, () => ({
	systemClock: {
		now: () => Date.now(),
		sleep: async (ms: number) => {
			waits.push(ms);
			await delay(ms);
		},
	},
}));
const box = useSandbox();

/** n8n's store, whose next call takes `slowMs` longer. */
class SlowOnceStore extends MemoryDeduplicationStore {
	slowMs = 0;
	async read(row: string) {
		const slowMs = this.slowMs;
		this.slowMs = 0;
		await delay(slowMs);
		return await super.read(row);
	}
}
const store = registerDeduplicationStore(new SlowOnceStore()) as SlowOnceStore;
const context = { workflow: { id: 'test-workflow' }, node: { id: 'vibecode' } };
const ONCE = { ...FAST, fireOnce: true, fireOnceKey: 'pay-1' };
const total = (ms: number[]) => ms.reduce((sum, one) => sum + one, 0);

beforeEach(async () => {
	await store.quiet();
	store.clear();
});

test('a key a dead execution left claimed is reported "may have fired" after seconds of waits, though a store call took 1 s', async () => {
	// What a run that died after claiming "pay-1" leaves in n8n's store: the key and its pending value.
	await store.checkProcessedAndRecord(['pay-1', 'pay-1\npending'], 'node', context, { mode: 'entries', maxEntries: 100 });
	store.slowMs = 1000;
	waits.length = 0;

	const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey: freshKey(box.sandbox), onError: 'continueErrorOutput', options: ONCE });

	expect(box.sandbox.fires).toEqual([]);
	expect(result.main).toEqual([]);
	expect(result.errors.map((item) => details(item).code)).toEqual(['FIRE_ONCE_UNANSWERED']);
	expect(total(waits)).toBeLessThan(30_000);
});

test('a free key fires once after seconds of waits, though a store call took 1 s', async () => {
	store.slowMs = 1000;
	waits.length = 0;

	const result = await fireAt(box.sandbox, [{ id: 2 }], { apiKey: freshKey(box.sandbox), onError: 'continueErrorOutput', options: ONCE });

	expect(box.sandbox.fires.map((f) => Number(f.entityId))).toEqual([2]);
	expect(result.main.map((item) => item.json.success)).toEqual([true]);
	expect(total(waits)).toBeLessThan(10_000);
});
