import type { INodeExecutionData } from 'n8n-workflow';

import { details, errorMessage, FAST } from './helpers';
import { MemoryDeduplicationStore, registerDeduplicationStore } from './harness/deduplication';
import { firedTwice, freshKey, ids } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';

// Issue 22: n8n dies in the middle of a run with "Fire Once Across Executions" on (a kill -9,
// an out-of-memory kill, a deploy). Here a second jest module registry is the n8n process that
// dies: its own n8n-core and copy of the node, given n8n's store (which survives, as a database
// does) through a wrapper that stops answering at the moment of death, and a Vibecode key that
// the sandbox cuts off then (its requests and the answers it waits for hang, unapplied; what it
// sent before stays applied). A later execution in the other registry meets its keys.
// Oracle: the "What must be true": a key is claimed shortly before its fire (at most
// twice Max Concurrent Requests claimed without an answer); a later execution skips what was
// fired, fires what was never claimed, and reports the claimed-unanswered keys as "may have
// fired", with a way to fire them after a check; nothing fires twice unless the person says so.
// A run killed, a second run that waits about 4 s for the dead run's answers, and a third: more
// than jest's 5 s, and far more on a busy machine.
jest.setTimeout(120_000);
const box = useSandbox();
const store = registerDeduplicationStore(new MemoryDeduplicationStore());

/** n8n's store as a process sees it: after `die()`, nothing it asks is answered (nor written). */
class StoreOfAProcess {
	private dead = false;
	constructor(private readonly store: MemoryDeduplicationStore) {}
	die() {
		this.dead = true;
	}
	private async call<T>(work: () => Promise<T>): Promise<T> {
		return this.dead ? await new Promise<T>(() => {}) : await work();
	}
	async checkProcessedAndRecord(...args: Parameters<MemoryDeduplicationStore['checkProcessedAndRecord']>) {
		return await this.call(async () => await this.store.checkProcessedAndRecord(...args));
	}
	async removeProcessed(...args: Parameters<MemoryDeduplicationStore['removeProcessed']>) {
		return await this.call(async () => await this.store.removeProcessed(...args));
	}
	async clearAllProcessedItems(...args: Parameters<MemoryDeduplicationStore['clearAllProcessedItems']>) {
		return await this.call(async () => await this.store.clearAllProcessedItems(...args));
	}
	async getProcessedDataCount(...args: Parameters<MemoryDeduplicationStore['getProcessedDataCount']>) {
		return await this.call(async () => await this.store.getProcessedDataCount(...args));
	}
}

/** An n8n process of its own (a module registry: its own n8n-core, node copy and turns on the store), to kill. */
async function startProcess() {
	const n8n: { fireAt: typeof fireAt; store: StoreOfAProcess } = {} as never;
	await jest.isolateModulesAsync(async () => {
		const { registerDeduplicationStore: register } = await import('./harness/deduplication');
		n8n.store = register(new StoreOfAProcess(store));
		n8n.fireAt = (await import('./sandboxRun')).fireAt;
		// A first run while this registry is the one jest requires from: what the harness and
		// n8n-core load lazily at run time (n8n-core 1.x's SSH cleanup timer among them, which the
		// harness unrefs) then belongs to this process, not to the other one.
		await n8n.fireAt(box.sandbox, [{ id: 1 }], { apiKey: freshKey(box.sandbox), options: FAST });
	});
	box.sandbox.reset();
	return n8n;
}
// The previous test's last removals land a moment after its execution ended.
beforeEach(async () => {
	await store.quiet();
	store.clear();
});

const MAX_CONCURRENT = 3;
const ONCE = { ...FAST, fireOnce: true, maxConcurrent: MAX_CONCURRENT };
const SKIPPED = /^Not fired: an earlier execution of this node fired this Fire Once Key/;
const fired = () => box.sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b);
const deal = (item: INodeExecutionData) => Number(item.json.entityId ?? details(item).entityId);

/** Starts a run of `count` deals in the doomed process and kills it once `firesBeforeDeath` fires have landed. */
async function dieMidRun(count: number, firesBeforeDeath: number) {
	const doomed = await startProcess();
	const apiKey = freshKey(box.sandbox);
	// Answers take a while: when the process dies, some fires have landed unanswered.
	box.sandbox.setLatency(40);
	// A killed process does nothing more: its execution is stopped with it, so no timer of it lives on.
	const kill = new AbortController();
	const options = { apiKey, options: ONCE, onError: 'continueErrorOutput' as const, signal: kill.signal };
	const ended = doomed.fireAt(box.sandbox, ids(count), options).then(
		() => true,
		() => true,
	);
	if (await Promise.race([box.sandbox.firesReach(firesBeforeDeath).then(() => false), ended])) {
		throw new Error(`the run ended after ${box.sandbox.fires.length} fires, before it could be killed`);
	}
	doomed.store.die();
	box.sandbox.cutOff(apiKey);
	kill.abort();
	box.sandbox.setLatency(0);
	return fired();
}

/** What a later execution said of each deal: fired, skipped or unanswered (may have fired). */
function said(result: { main: INodeExecutionData[]; errors: INodeExecutionData[] }) {
	const of = (pick: (item: INodeExecutionData) => boolean, items: INodeExecutionData[]) => items.filter(pick).map(deal).sort((a, b) => a - b);
	return {
		fired: of((item) => item.json.success === true, result.main),
		skipped: of((item) => item.json.skipped === true && SKIPPED.test(String(item.json.reason)), result.main),
		unanswered: of((item) => details(item).code === 'FIRE_ONCE_UNANSWERED', result.errors),
		other: result.errors.length + result.main.length,
	};
}

test('n8n dies in the middle of a bulk run: the next execution skips what fired, fires what was never claimed, and reports the few claimed keys as "may have fired"', async () => {
	const before = await dieMidRun(40, 12);
	const next = await fireAt(box.sandbox, ids(40), { apiKey: freshKey(box.sandbox), options: ONCE, onError: 'continueErrorOutput' });
	const { fired: firedNow, skipped, unanswered, other } = said(next);

	expect(other).toBe(40);
	expect(firedTwice(box.sandbox)).toEqual([]);
	// Every deal the dead run fired is skipped (its answer recorded) or unanswered (in flight when it died).
	for (const id of before) expect([...skipped, ...unanswered]).toContain(id);
	expect(firedNow.filter((id) => before.includes(id))).toEqual([]);
	// The dead run claimed no more than twice Max Concurrent Requests keys without an answer.
	expect(unanswered.length).toBeGreaterThan(0);
	expect(unanswered.length).toBeLessThanOrEqual(2 * MAX_CONCURRENT);
	// Everything else fired now, once: nothing is lost, nothing is called fired that was not sent.
	expect([...firedNow, ...skipped, ...unanswered].sort((a, b) => a - b)).toEqual(ids(40).map(({ id }) => id));
	expect(skipped.every((id) => before.includes(id))).toBe(true);
	expect(fired()).toEqual([...before, ...firedNow].sort((a, b) => a - b));
});

test('an unanswered key says what to check and how to fire it; with "Fire Once Keys Left Unanswered" set to fire, exactly those fire', async () => {
	const before = await dieMidRun(20, 6);
	const apiKey = freshKey(box.sandbox);
	const next = await fireAt(box.sandbox, ids(20), { apiKey, options: ONCE, onError: 'continueErrorOutput' });
	const { unanswered } = said(next);
	const first = next.errors.find((item) => details(item).code === 'FIRE_ONCE_UNANSWERED') as INodeExecutionData;

	expect(errorMessage(first)).toBe(`Fire Once Key "deal:${deal(first)}:payment_received" may already have fired (item ${deal(first) - 1})`);
	expect(details(first).description).toMatch(/^This item was not sent\. Another execution of this node claimed this key and never recorded Bitrix24's answer/);
	expect(details(first).description).toContain(`Check Deal ${deal(first)} in Bitrix24`);
	expect(details(first).description).toContain('"Fire Once Keys Left Unanswered" → "Fire (I Checked the Records)"');
	expect(details(first)).toMatchObject({ fireOnceKey: `deal:${deal(first)}:payment_received`, entityId: deal(first) });

	// The person checked the records: the option fires the unanswered keys, and only those.
	const firesBefore = box.sandbox.fires.length;
	const again = await fireAt(box.sandbox, ids(20), { apiKey, options: { ...ONCE, fireOnceUnanswered: 'fire' }, onError: 'continueErrorOutput' });
	expect(said(again).fired).toEqual(unanswered);
	expect(box.sandbox.fires.slice(firesBefore).map((f) => Number(f.entityId)).sort((a, b) => a - b)).toEqual(unanswered);
	// Those the dead run had sent fire a second time: the person's choice, which is why the message asks for a check.
	expect(firedTwice(box.sandbox).map(Number).sort((a, b) => a - b)).toEqual(unanswered.filter((id) => before.includes(id)));
	// Once answered, the keys are fired keys: a later execution skips all twenty.
	const last = await fireAt(box.sandbox, ids(20), { apiKey, options: ONCE, onError: 'continueErrorOutput' });
	expect(said(last).skipped).toEqual(ids(20).map(({ id }) => id));
});

test('a run claims its keys as it goes: never more than twice Max Concurrent Requests claimed without an answer', async () => {
	const keys = ids(60).map(({ id }) => `deal:${id}:payment_received\npending`);
	const claimedNow: number[] = [];
	let answerWrites = 0;
	const write = store.write.bind(store);
	store.write = async (...args: Parameters<typeof store.write>) => {
		await write(...args);
		claimedNow.push(keys.filter((pending) => store.holds(pending)).length);
	};
	const remove = store.removeProcessed.bind(store);
	store.removeProcessed = async (...args: Parameters<typeof store.removeProcessed>) => {
		// A write of answers removes "pending" values (a look after it removes only the marks it recorded again).
		if ((args[0] as string[]).some((value) => String(value).endsWith('\npending'))) answerWrites++;
		await remove(...args);
	};
	try {
		box.sandbox.setLatency(5);
		const result = await fireAt(box.sandbox, ids(60), { apiKey: freshKey(box.sandbox), options: ONCE });
		expect(result.main.filter((item) => item.json.success === true)).toHaveLength(60);
	} finally {
		store.write = write;
		store.removeProcessed = remove;
		box.sandbox.setLatency(0);
	}
	expect(Math.max(...claimedNow)).toBeLessThanOrEqual(2 * MAX_CONCURRENT);
	expect(Math.max(...claimedNow)).toBeGreaterThan(0);
	// Answers are written in batches of about Max Concurrent Requests, not one write per fire.
	expect(answerWrites).toBeLessThanOrEqual(60 / MAX_CONCURRENT + 2);
	expect(keys.filter((pending) => store.holds(pending))).toEqual([]);
});

test('an option value that is neither choice fails its item before anything is sent, naming the field, the value and the item', async () => {
	const result = await fireAt(box.sandbox, ids(2), {
		apiKey: freshKey(box.sandbox),
		options: { ...ONCE, fireOnceUnanswered: '={{ $json.id === 2 ? "yes" : "report" }}' },
		onError: 'continueErrorOutput',
	});

	expect(result.errors.map(errorMessage)).toEqual(['Invalid Fire Once Keys Left Unanswered "yes" in item 1']);
	expect(fired()).toEqual([1]);
});
