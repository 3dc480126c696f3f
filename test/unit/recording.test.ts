import { nextTurn } from '../harness/system';
import { virtualClock } from '../harness/virtualClock';

// Oracle: the store's encoding (a sent key stays as the key alone) and issue 34's finding: under
// load, a write of another process that read n8n's row before a claim can land after the claim's
// answer was recorded, and erase the key; a later execution would then find it free and fire it
// again. The look a settle after the answer records the sent key again. The store here is a
// plain set of values; the clock is virtual.
const clock = virtualClock();
jest.mock('../../nodes/Bitrix24Vibecode/transport/clock', () => ({ systemClock: clock }));

// After the mock above: the store's module takes the virtual clock.
import { Recorder } from '../../nodes/Bitrix24Vibecode/resources/trigger/fireOnce/recording';
import { pendingOf, type OnceStore } from '../../nodes/Bitrix24Vibecode/resources/trigger/fireOnce/store';

function storeOf(row: Set<string>, afterRemove: () => void = () => {}): OnceStore {
	return {
		row: 'test-workflow\nnode',
		options: { mode: 'entries', maxEntries: 100 },
		markOf: (key, attempt) => `${key}\nmark:${attempt}`,
		run: { context: { logger: { warn: () => {} } }, node: { name: 'Fire' } } as never,
		store: {
			checkProcessedAndRecord: async (values: string[]) => {
				const processed = values.filter((value) => row.has(value));
				for (const value of values) row.add(value);
				return { new: values.filter((value) => !processed.includes(value)), processed };
			},
			removeProcessed: async (values: string[]) => {
				for (const value of values) row.delete(value);
				afterRemove();
			},
		} as never,
	};
}

const KEY = 'deal:5141:payment_received';
const MARK = `${KEY}\nmark:0`;

test('a sent key that a late write erased after its answer was recorded is recorded again', async () => {
	const row = new Set([KEY, pendingOf(KEY), MARK]);
	let lateWrite = true;
	// Another process read the row before the claim; its write lands right after the answer's.
	const once = storeOf(row, () => {
		if (lateWrite) row.clear();
		lateWrite = false;
	});
	const recorder = new Recorder(once, 5, () => {});
	recorder.opened(1);
	recorder.answered(MARK, [pendingOf(KEY), MARK], KEY);
	await recorder.close();
	expect(row.has(KEY)).toBe(false);

	// The look a settle later.
	for (let i = 0; i < 10 && !row.has(KEY); i++) await clock.sleep(100);
	await nextTurn();
	expect([...row]).toEqual([KEY]);
});

test('a key whose fire never reached Bitrix24 is freed, and not recorded again', async () => {
	const row = new Set([KEY, pendingOf(KEY), MARK]);
	const once = storeOf(row);
	const recorder = new Recorder(once, 5, () => {});
	recorder.opened(1);
	recorder.answered(MARK, [pendingOf(KEY), MARK, KEY]);
	await recorder.close();
	for (let i = 0; i < 10; i++) await clock.sleep(100);
	await nextTurn();
	expect([...row]).toEqual([]);
});
