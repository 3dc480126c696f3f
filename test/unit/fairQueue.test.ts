import { FairQueue } from '../../nodes/Bitrix24Vibecode/transport/fairQueue';

// Oracle: the README's "Bulk firing" (runs sharing a key take turns, each in its own order, so a
// webhook's one fire is not stuck behind a bulk run; a retry goes before items that never
// started; a stopped run sends nothing more) and issue 9's "no O(n) shift on long queues".

interface Item {
	name: string;
	owner: object;
}

/** Takes everything, in the order the queue gives it. */
function drain(queue: FairQueue<Item>): string[] {
	const names: string[] = [];
	for (let item = queue.take(); item; item = queue.take()) names.push(item.name);
	return names;
}

const push = (queue: FairQueue<Item>, owner: object, names: string[], retry = false) => {
	for (const name of names) queue.push({ name, owner }, retry);
};

describe('FairQueue', () => {
	test('one owner: first in, first out; empty: nothing to take', () => {
		const queue = new FairQueue<Item>();
		expect(queue.peek()).toBeUndefined();
		push(queue, {}, ['a', 'b', 'c', 'd']);

		expect(queue.peek()?.name).toBe('a');
		expect(drain(queue)).toEqual(['a', 'b', 'c', 'd']);
		expect(queue.take()).toBeUndefined();
	});

	test('runs sharing a key take turns, each in its own order', () => {
		const queue = new FairQueue<Item>();
		const bulk = {};
		const late = {};
		// The bulk run's first request goes at once, before the rest of either run is queued.
		push(queue, bulk, ['b1']);
		const first = queue.take()?.name;
		push(queue, bulk, ['b2', 'b3', 'b4', 'b5']);
		push(queue, late, ['l1', 'l2']);

		expect([first, ...drain(queue)]).toEqual(['b1', 'b2', 'l1', 'b3', 'l2', 'b4', 'b5']);
	});

	test('retries go before items that never started', () => {
		const queue = new FairQueue<Item>();
		const run = {};
		push(queue, run, ['f1', 'f2']);
		const first = queue.take()?.name;
		push(queue, run, ['retry'], true);

		// f1 had already started when the retry queued; the retry then goes before f2.
		expect([first, ...drain(queue)]).toEqual(['f1', 'retry', 'f2']);
	});

	test('a cancelled owner\'s waiting items, its retries too, are removed and handed back; other owners keep their turns', () => {
		const queue = new FairQueue<Item>();
		const stopped = {};
		const other = {};
		push(queue, stopped, ['s1', 's2']);
		push(queue, other, ['o1']);
		push(queue, stopped, ['s3'], true);
		push(queue, other, ['o2'], true);
		push(queue, other, ['o3']);

		expect(queue.cancel(stopped).map((item) => item.name)).toEqual(['s1', 's2', 's3']);
		expect(drain(queue)).toEqual(['o2', 'o1', 'o3']);
		expect(queue.cancel(stopped)).toEqual([]);
	});

	test('a long queue keeps its order across the FIFO\'s compaction (more than 1,024 taken)', () => {
		const queue = new FairQueue<Item>();
		const names = Array.from({ length: 5_000 }, (_, i) => String(i));
		push(queue, {}, names);

		expect(drain(queue)).toEqual(names);
	});
});
