import { Pacer } from '../../nodes/Bitrix24Vibecode/transport/pacer';
import { ReadBudget } from '../../nodes/Bitrix24Vibecode/transport/readBudget';
import { virtualClock } from '../harness/virtualClock';

// Oracle: issue 32's pace for reads that can wait. All of the key's requests may take 1.8 a second
// (90 % of a standard portal's 2) sustained; three at once after a quiet moment (one execution's
// check, fire and read back); a fire never waits and may run the budget up to nine into debt (five
// seconds of it); a read waits for room at most five seconds from when it was first asked, and
// only while another owner used the key in the last five seconds. Times are plain numbers.

describe('ReadBudget', () => {
	test('three requests at once after a quiet moment; the fourth read waits for a token, 1/1.8 s', () => {
		const budget = new ReadBudget();
		for (let i = 0; i < 3; i++) {
			expect(budget.waitMs(0, 0)).toBe(0);
			budget.started(0);
		}
		expect(budget.waitMs(0, 0)).toBe(556);
		expect(budget.waitMs(556, 0)).toBe(0);
	});

	test('fires run it into debt, nine at most: a read then waits until the debt is paid, never past five seconds', () => {
		const budget = new ReadBudget();
		for (let i = 0; i < 3 + 9; i++) budget.started(0);
		// Ten tokens short: 10 / 1.8 s.
		expect(budget.waitMs(0, 0)).toBe(5000);
		for (let i = 0; i < 100; i++) budget.started(0);
		expect(budget.waitMs(0, 0)).toBe(5000);
		expect(budget.waitMs(1000, 0)).toBe(4000);
		expect(budget.waitMs(5000, 0)).toBe(0);
		expect(budget.waitMs(5000, 4000)).toBe(556);
	});

	test('it fills back at 1.8 a second, up to three', () => {
		const budget = new ReadBudget();
		for (let i = 0; i < 3; i++) budget.started(0);
		budget.started(10_000);
		budget.started(10_000);
		budget.started(10_000);
		expect(budget.waitMs(10_000, 10_000)).toBe(556);
	});
});

describe("Pacer: a read waits for company only while others use the key", () => {
	const turn = (owner: object) => ({ intervalMs: 0, maxInFlight: 10, owner });

	async function spend(pacer: Pacer, owner: object, count: number) {
		for (let i = 0; i < count; i++) {
			await pacer.acquire(turn(owner));
			pacer.release();
		}
	}

	test('alone on the key, a read never waits, however spent the budget', async () => {
		const pacer = new Pacer(virtualClock());
		const me = {};
		await spend(pacer, me, 20);
		expect(pacer.readWaitMs(me, pacer.clock.now())).toBe(0);
	});

	test('with another owner on the key in the last five seconds, it waits for the budget; after that, no longer', async () => {
		const clock = virtualClock();
		const pacer = new Pacer(clock);
		const me = {};
		const other = {};
		// Three requests between them: the budget is spent.
		await spend(pacer, other, 1);
		await spend(pacer, me, 2);
		expect(pacer.readWaitMs(me, clock.now())).toBe(556);
		clock.at += 5001;
		expect(pacer.readWaitMs(me, clock.at)).toBe(0);
	});
});
