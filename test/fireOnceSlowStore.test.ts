import { details, FAST } from './helpers';
import { MemoryDeduplicationStore, registerDeduplicationStore } from './harness/deduplication';
import { useEventClock } from './harness/virtualClock';
import { freshKey } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';

// A store call that is slow once (a worker's first call, a busy database) must not stretch the
// node's waits on the store for minutes: seen in the queue-mode e2e on a loaded machine, where
// a webhook delivered again met a key still claimed and its execution outlasted the caller's
// three-minute timeout. The node times the store's calls on its clock, so the slow call waits on
// the event clock, which moves only when everything waits, as real time would pass; what is
// asserted is the waits the node asked for (recorded by the clock), not how long anything took.
// Oracle: the README's "After a crash": a key another execution holds unanswered is reported
// "may have fired" once the node has looked a few times; a person waits seconds for that
// answer, not minutes: under half a minute of waits after a one-second store call.
const clock = useEventClock({ start: Date.UTC(2026, 10, 29, 12, 0, 0) });
const box = useSandbox();

/** n8n's store, whose next call takes `slowMs` longer; the clock does not move during a call but for that. */
class SlowOnceStore extends MemoryDeduplicationStore {
	slowMs = 0;
	private async slowOnce() {
		const slowMs = this.slowMs;
		this.slowMs = 0;
		if (slowMs) await clock.after(slowMs);
	}
	async checkProcessedAndRecord(...args: Parameters<MemoryDeduplicationStore['checkProcessedAndRecord']>) {
		await this.slowOnce();
		return await clock.busy(super.checkProcessedAndRecord(...args));
	}
	async removeProcessed(...args: Parameters<MemoryDeduplicationStore['removeProcessed']>) {
		await this.slowOnce();
		return await clock.busy(super.removeProcessed(...args));
	}
}
const store = registerDeduplicationStore(new SlowOnceStore()) as SlowOnceStore;
const context = { workflow: { id: 'test-workflow' }, node: { id: 'vibecode' } };
const ONCE = { ...FAST, fireOnce: true, fireOnceKey: 'pay-1' };
const total = (ms: number[]) => ms.reduce((sum, one) => sum + one, 0);

// The previous test's last looks at the store (a settle after the execution ends) happen in its
// virtual minute after, before this test's store is cleared.
beforeEach(async () => {
	await clock.runUntil(clock.sleep(60_000));
	store.clear();
	clock.sleeps.length = 0;
});

test('a key a dead execution left claimed is reported "may have fired" after seconds of waits, though a store call took 1 s', async () => {
	// What a run that died after claiming "pay-1" leaves in n8n's store: the key and its pending value.
	await store.checkProcessedAndRecord(['pay-1', 'pay-1\npending'], 'node', context, { mode: 'entries', maxEntries: 100 });
	store.slowMs = 1000;

	const result = await clock.runUntil(fireAt(box.sandbox, [{ id: 1 }], { apiKey: freshKey(box.sandbox), onError: 'continueErrorOutput', options: ONCE }));

	expect(box.sandbox.fires).toEqual([]);
	expect(result.main).toEqual([]);
	expect(result.errors.map((item) => details(item).code)).toEqual(['FIRE_ONCE_UNANSWERED']);
	expect(total(clock.sleeps)).toBeLessThan(30_000);
});

test('a free key fires once after seconds of waits, though a store call took 1 s', async () => {
	store.slowMs = 1000;

	const result = await clock.runUntil(fireAt(box.sandbox, [{ id: 2 }], { apiKey: freshKey(box.sandbox), onError: 'continueErrorOutput', options: ONCE }));

	expect(box.sandbox.fires.map((f) => Number(f.entityId))).toEqual([2]);
	expect(result.main.map((item) => item.json.success)).toEqual([true]);
	expect(total(clock.sleeps)).toBeLessThan(10_000);
});
