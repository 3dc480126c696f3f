import { Congestion } from '../../nodes/Bitrix24Vibecode/transport/congestion';

// Oracle: issue 18's back-off (a portal or gateway that struggles halves the rate and the
// requests in flight, down to an eighth; they grow back by 0.02 requests per second with each
// healthy answer; one cut per second; after a cut a pause of five of the key's intervals, at
// most a second) and its slow answers (slower than 4 × the fastest of the last 20 of the same
// kind, and than the fastest + 2 s, once 5 are known). Times are plain numbers: the part keeps
// no clock of its own.

const FIRE = '/v1/triggers/fire';
/** An answer that took `latencyMs` and came at `at`. */
const healthy = (at: number, latencyMs = 50, kind = FIRE) => ({ startedAt: at - latencyMs, kind, overloaded: false });
const overloaded = (at: number) => ({ startedAt: at - 50, kind: FIRE, overloaded: true });
/** Vibecode's default key: 300 a minute. */
const PER_SECOND = 5;

describe('Congestion: multiplicative decrease', () => {
	test('an overloaded answer halves the rate and the requests in flight, and asks for a pause of five of the key\'s intervals', () => {
		const congestion = new Congestion();
		expect(congestion.factor).toBe(1);
		expect(congestion.inFlightOf(10)).toBe(10);

		expect(congestion.observe(overloaded(0), 0, PER_SECOND)).toBe(1_000);
		expect(congestion.factor).toBe(0.5);
		expect(congestion.inFlightOf(10)).toBe(5);
		expect(congestion.inFlightOf(5)).toBe(2);
		expect(congestion.inFlightOf(1)).toBe(1);
	});

	test('the pause is five of the key\'s intervals, at most a second', () => {
		expect(new Congestion().observe(overloaded(0), 0, 10)).toBe(500);
		expect(new Congestion().observe(overloaded(0), 0, 1)).toBe(1_000);
	});

	test('no second cut within a second of the last: the answers in flight then tell nothing new', () => {
		const congestion = new Congestion();
		congestion.observe(overloaded(0), 0, PER_SECOND);
		expect(congestion.observe(overloaded(999), 999, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBe(0.5);

		expect(congestion.observe(overloaded(1_000), 1_000, PER_SECOND)).toBe(1_000);
		expect(congestion.factor).toBe(0.25);
	});

	test('cuts stop at an eighth of the rate', () => {
		const congestion = new Congestion();
		for (let i = 0; i < 6; i++) congestion.observe(overloaded(i * 1_000), i * 1_000, PER_SECOND);
		expect(congestion.factor).toBe(1 / 8);
		expect(congestion.inFlightOf(5)).toBe(1);
	});
});

describe('Congestion: additive increase', () => {
	test('each healthy answer gives back 0.02 requests per second of the key\'s rate, up to all of it', () => {
		const congestion = new Congestion();
		congestion.observe(overloaded(0), 0, PER_SECOND);
		congestion.observe(healthy(10), 10, PER_SECOND);
		expect(congestion.factor).toBeCloseTo(0.5 + 0.02 / PER_SECOND, 12);

		// 0.5 of the rate back at 0.004 an answer: 125 answers, one more changes nothing.
		for (let i = 1; i < 125; i++) congestion.observe(healthy(10 + i), 10 + i, PER_SECOND);
		expect(congestion.factor).toBeCloseTo(1, 9);
		congestion.observe(healthy(200), 200, PER_SECOND);
		expect(congestion.factor).toBe(1);
	});

	test('healthy answers at full rate ask for nothing', () => {
		const congestion = new Congestion();
		expect(congestion.observe(healthy(0), 0, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBe(1);
	});
});

describe('Congestion: slow answers', () => {
	test('an answer slower than 4 × the fastest of its kind and the fastest + 2 s is a cut, once 5 are known', () => {
		const congestion = new Congestion();
		for (let i = 0; i < 5; i++) congestion.observe(healthy(i, 500), i, PER_SECOND);
		// 4 × 500 = 2 s, 500 + 2 s = 2.5 s: 2.5 s is not slower than both.
		expect(congestion.observe(healthy(10, 2_500), 10, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBe(1);
		expect(congestion.observe(healthy(20, 2_501), 20, PER_SECOND)).toBe(1_000);
		expect(congestion.factor).toBe(0.5);
	});

	test('fewer than 5 answers of the kind: no answer is slow yet', () => {
		const congestion = new Congestion();
		for (let i = 0; i < 4; i++) congestion.observe(healthy(i, 50), i, PER_SECOND);
		expect(congestion.observe(healthy(10, 60_000), 10, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBe(1);
	});

	test('each kind of request is slow or fast in its own way', () => {
		const congestion = new Congestion();
		for (let i = 0; i < 5; i++) congestion.observe(healthy(i, 50, FIRE), i, PER_SECOND);
		for (let i = 0; i < 5; i++) congestion.observe(healthy(10 + i, 5_000, '/v1/deals/search'), 10 + i, PER_SECOND);
		expect(congestion.observe(healthy(20, 6_000, '/v1/deals/search'), 20, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBe(1);
		expect(congestion.observe(healthy(30, 6_000, FIRE), 30, PER_SECOND)).toBe(1_000);
	});

	test('only the last 20 answers of a kind count: a lasting slowdown becomes the new normal', () => {
		const congestion = new Congestion();
		for (let i = 0; i < 5; i++) congestion.observe(healthy(i, 50), i, PER_SECOND);
		// The first slow answer is a cut; the next within a second are not cuts, and slow answers count too.
		expect(congestion.observe(healthy(10, 5_000), 10, PER_SECOND)).toBe(1_000);
		for (let i = 1; i < 20; i++) congestion.observe(healthy(10 + i, 5_000), 10 + i, PER_SECOND);
		// Twenty answers of 5 s: the fast ones have left the samples, so 5 s is normal now.
		expect(congestion.observe(healthy(5_000, 5_000), 5_000, PER_SECOND)).toBeUndefined();
		expect(congestion.factor).toBeGreaterThan(0.5);
	});
});

describe('Congestion: a rested portal', () => {
	test('half a minute without answers: the rate starts afresh; sooner, the back-off holds', () => {
		const congestion = new Congestion();
		congestion.observe(overloaded(0), 0, PER_SECOND);
		congestion.resume(29_999);
		expect(congestion.factor).toBe(0.5);
		congestion.resume(30_000);
		expect(congestion.factor).toBe(1);
	});
});

