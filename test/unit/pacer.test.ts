import { Pacer, TurnCancelled } from '../../nodes/Bitrix24Vibecode/transport/pacer';
import { virtualClock, type VirtualClock } from '../harness/virtualClock';
import { settle } from './support';

// The pacer composes its parts (the key's window, congestion control, the fair queue), each
// tested on its own beside this file; here, what the composition does with them: spacing, slots
// in flight, holds, waiting for an answer, cancelling. Oracle: the README's "Bulk firing, rate
// limits and retries". Time is virtual (./support.ts): the clock moves only when the pacer
// waits, by exactly the wait.

type Started = Array<{ name: string; at: number }>;

/** Sends `names` through the pacer; each gives its slot back as soon as it started. */
function send(pacer: Pacer, clock: VirtualClock, started: Started, names: string[], turn: { owner: object; intervalMs?: number; maxInFlight?: number }) {
	return names.map(async (name) => {
		await pacer.acquire({ intervalMs: 100, maxInFlight: 10, ...turn });
		started.push({ name, at: clock.now() });
		pacer.release();
		return name;
	});
}

const answer = (clock: VirtualClock, more: { limit?: number; remaining?: number; resetAtMs?: number; overloaded?: boolean } = {}) => ({
	startedAt: clock.now(),
	overloaded: false,
	refused: false,
	kind: '/v1/triggers/fire',
	...more,
});

describe('Pacer', () => {
	test('starts are spaced evenly at the interval, in order', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const started: Started = [];
		await Promise.all(send(pacer, clock, started, ['a', 'b', 'c', 'd'], { owner: {}, intervalMs: 250 }));

		expect(started).toEqual([
			{ name: 'a', at: 0 },
			{ name: 'b', at: 250 },
			{ name: 'c', at: 500 },
			{ name: 'd', at: 750 },
		]);
	});

	test('no more than maxInFlight hold a slot at once', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		let inFlight = 0;
		let most = 0;
		const releases: Array<() => void> = [];
		const items = Array.from({ length: 7 }, async () => {
			await pacer.acquire({ intervalMs: 0, maxInFlight: 3, owner: {} });
			most = Math.max(most, ++inFlight);
			await new Promise<void>((resolve) => releases.push(resolve));
			inFlight--;
			pacer.release();
		});
		await settle();
		expect(inFlight).toBe(3);
		while (releases.length) {
			releases.shift()?.();
			await settle();
		}
		await Promise.all(items);
		expect(most).toBe(3);
	});

	test('runs sharing a key share one pace: they take turns (./fairQueue.test.ts), every start one interval after the last', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const started: Started = [];
		const bulk = { owner: {} };
		const late = { owner: {} };
		const first = send(pacer, clock, started, ['b1', 'b2', 'b3', 'b4', 'b5'], bulk);
		const second = send(pacer, clock, started, ['l1', 'l2'], late);
		await Promise.all([...first, ...second]);

		expect(started.map((s) => s.name)).toEqual(['b1', 'b2', 'l1', 'b3', 'l2', 'b4', 'b5']);
		expect(started.map((s) => s.at)).toEqual([0, 100, 200, 300, 400, 500, 600]);
	});

	test('a hold (a 429\'s wait) delays every start on the key by exactly its length', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const started: Started = [];
		pacer.holdFor(2_500);
		await Promise.all(send(pacer, clock, started, ['a', 'b'], { owner: {} }));

		expect(started).toEqual([
			{ name: 'a', at: 2_500 },
			{ name: 'b', at: 2_600 },
		]);
	});

	test('an answer telling the key\'s limit sets the pace; an overloaded one pauses the key, then halves its rate', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const owner = {};
		await pacer.acquire({ intervalMs: 0, maxInFlight: 10, owner });
		// A key of 600 a minute: 102 ms between starts.
		pacer.observe(answer(clock, { limit: 600 }));
		pacer.release();
		const started: Started = [];
		await Promise.all(send(pacer, clock, started, ['a', 'b'], { owner, intervalMs: 0 }));
		pacer.observe(answer(clock, { overloaded: true }));
		await Promise.all(send(pacer, clock, started, ['c', 'd'], { owner, intervalMs: 0 }));

		// The first start at 0; the cut at 204 pauses five of the key's intervals (500 ms); then 204 ms apart.
		expect(started).toEqual([
			{ name: 'a', at: 102 },
			{ name: 'b', at: 204 },
			{ name: 'c', at: 704 },
			{ name: 'd', at: 908 },
		]);
	});

	test('a Reset of 0 ("no wait") frees no room: once the room the gateway named is taken, the next start waits for an answer', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const owner = {};
		const turn = { intervalMs: 0, maxInFlight: 10, owner };
		await pacer.acquire(turn);
		// The key's first answer: a limit of 3 a minute, room for 2 more, Reset 0.
		pacer.observe(answer(clock, { limit: 3, remaining: 2, resetAtMs: clock.now() }));
		pacer.release();
		const started: string[] = [];
		const waiting = ['a', 'b', 'c'].map((name) => pacer.acquire(turn).then(() => started.push(name), () => started.push(`${name} dropped`)));
		await settle(200);

		// a and b, a third of a minute apart, are in flight; c waits for their answers.
		expect(started).toEqual(['a', 'b']);
		expect(pacer.busy).toBe(true);
		pacer.cancel(owner);
		await Promise.all(waiting);
		expect(started).toEqual(['a', 'b', 'c dropped']);
	});

	test('cancelling a run drops its waiting turns at once, retries too; other runs go on', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const stopped = {};
		const other = {};
		const outcomes: string[] = [];
		const turn = (name: string, run: object, retry = false) =>
			pacer.acquire({ intervalMs: 1_000, maxInFlight: 10, owner: run }, retry).then(
				() => {
					outcomes.push(`${name} started`);
					pacer.release();
				},
				(error: unknown) => outcomes.push(`${name} ${error instanceof TurnCancelled ? 'dropped' : 'failed'}`),
			);
		const all = [turn('s1', stopped), turn('s2', stopped), turn('s3', stopped, true), turn('o1', other), turn('o2', other)];
		// s1 has started; the others wait for their turn, a virtual second apart.
		for (let i = 0; i < 10; i++) await Promise.resolve();
		expect(outcomes).toEqual(['s1 started']);
		pacer.cancel(stopped);
		await Promise.all(all);

		// s1 started at once; the rest of the stopped run never starts, however long it waited.
		expect(outcomes.filter((o) => o.startsWith('s')).sort()).toEqual(['s1 started', 's2 dropped', 's3 dropped']);
		expect(outcomes.filter((o) => o.startsWith('o'))).toEqual(['o1 started', 'o2 started']);
		expect(pacer.busy).toBe(false);
	});
});

describe('Pacer: what holds the pace below the key\'s limit (a long run\'s progress line says it)', () => {
	const turn = { owner: {}, intervalMs: 204, maxInFlight: 5 };

	test('nothing, at first; the portal pushing back after an overloaded answer', () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		expect(pacer.holdsBack(turn)).toEqual([]);
		pacer.observe(answer(clock, { overloaded: true }));
		expect(pacer.holdsBack(turn)).toEqual(['portal']);
	});

	test('the portal, until the key rested half a minute: the next run starts at the key\'s pace', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		pacer.observe(answer(clock, { overloaded: true }));
		clock.at += 30_000;
		expect(pacer.holdsBack(turn)).toEqual(['portal']);
		await pacer.acquire(turn);
		pacer.release();
		expect(pacer.holdsBack(turn)).toEqual([]);
	});

	test("a 429, for a minute after it", () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		pacer.observe({ ...answer(clock), refused: true });
		expect(pacer.holdsBack(turn)).toEqual(['refused']);
		clock.at += 60_001;
		expect(pacer.holdsBack(turn)).toEqual([]);
	});

	test('a cap below the key\'s limit, once the limit is known; not a cap above it', () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const capped = { ...turn, intervalMs: 500, capped: true };
		expect(pacer.holdsBack(capped)).toEqual([]);
		// Nothing counted in the key's window: no other user of it.
		pacer.observe(answer(clock, { limit: 300, remaining: 300 }));
		expect(pacer.holdsBack(capped)).toEqual(['cap']);
		expect(pacer.holdsBack({ ...turn, intervalMs: 100, capped: true })).toEqual([]);
	});
});

describe('Pacer: other runs of this process on the key hold the pace too', () => {
	test('another owner that asked for a turn in the last five seconds; not after', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const mine = { owner: {}, intervalMs: 204, maxInFlight: 5 };
		await pacer.acquire(mine);
		pacer.release();
		expect(pacer.holdsBack(mine)).toEqual([]);
		await pacer.acquire({ ...mine, owner: {} });
		pacer.release();
		expect(pacer.holdsBack(mine)).toEqual(['company']);
		clock.at += 5_001;
		expect(pacer.holdsBack(mine)).toEqual([]);
	});
});
