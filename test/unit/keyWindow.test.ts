import { KeyWindow } from '../../nodes/Bitrix24Vibecode/transport/keyWindow';

// Oracle: issue 18 and issue 23. The key's limit is per minute (X-RateLimit-Limit) and starts
// are spaced at it with a 2 % margin, or at the user's cap when that is slower; until an answer
// tells the limit, the caller's own pace. Remaining and Reset only slow the pace down: with no
// room left the next start waits for the reset, and a Reset of 0 frees nothing. Others' use of
// the key (what the gateway counts beyond this process's own starts) takes its share in
// proportion to their pace and this process's over the last 10 of the key's intervals (at least
// 5 s), down to a tenth. A gateway that counts in fixed windows forgets this process's requests
// when a new window begins, and they are not mistaken for a change in others' use. Times are
// plain numbers: the window keeps no clock, only the clock's window length.

const MINUTE = { windowMs: 60_000 };
const asked = { intervalMs: 500 };

/** This process starts a request at `at`, and its answer comes at once saying the window counts `counted`. */
function answered(window: KeyWindow, at: number, limit: number, counted: number) {
	window.started(at);
	window.observe({ limit, remaining: limit - counted, startedAt: at }, at, 1);
}

describe("KeyWindow: the key's limit", () => {
	test('before any answer: the caller\'s own pace, Vibecode\'s default rate (300 a minute), room for a start', () => {
		const window = new KeyWindow(MINUTE);
		expect(window.intervalMs(asked, 0)).toBe(500);
		expect(window.perSecond()).toBe(5);
		expect(window.roomAt(0, 0)).toBe(0);
	});

	test('once an answer tells the limit: starts at it with a 2 % margin, faster or slower than the caller asked', () => {
		const window = new KeyWindow(MINUTE);
		window.observe({ limit: 600, startedAt: 0 }, 0, 1);
		expect(window.perSecond()).toBe(10);
		expect(window.intervalMs({ intervalMs: 500 }, 0)).toBeCloseTo(102, 9);
		expect(window.intervalMs({ intervalMs: 10 }, 0)).toBeCloseTo(102, 9);
	});

	test('a cap ("Requests per Minute") is kept when slower than the key, never makes it faster', () => {
		const window = new KeyWindow(MINUTE);
		window.observe({ limit: 600, startedAt: 0 }, 0, 1);
		// A key of 600 a minute, a cap of 120 a minute with its 2 % margin (run.ts's turn): 2 a second.
		expect(window.intervalMs({ intervalMs: (60_000 / 120) * 1.02, capped: true }, 0)).toBe(510);
		expect(window.intervalMs({ intervalMs: 10, capped: true }, 0)).toBeCloseTo(102, 9);
	});

	test('the window is the clock\'s: a compressed one (30 per 6 s) paces at 5 a second', () => {
		const window = new KeyWindow({ windowMs: 6_000 });
		window.observe({ limit: 30, startedAt: 0 }, 0, 1);
		expect(window.perSecond()).toBe(5);
		expect(window.intervalMs(asked, 0)).toBeCloseTo(204, 9);
	});
});

describe("KeyWindow: the window's room", () => {
	test('Reset ahead: with the room the answer named taken, starts wait for it', () => {
		const window = new KeyWindow(MINUTE);
		// A key of 3 a minute: this process's first start is counted, room for 2 more until 5 s.
		window.started(0);
		window.observe({ limit: 3, remaining: 2, resetAtMs: 5_000, startedAt: 0 }, 0, 1);
		window.started(10);
		expect(window.roomAt(20, 1)).toBe(0);
		window.started(20);
		expect(window.roomAt(30, 2)).toBe(5_000);
		expect(window.roomAt(4_999, 0)).toBe(5_000);
		expect(window.roomAt(5_000, 0)).toBe(0);
	});

	test('a Reset of 0 ("no wait") frees no room: once the room named is taken, the next start waits for an answer, or asks when none is awaited', () => {
		const window = new KeyWindow(MINUTE);
		window.started(0);
		window.observe({ limit: 3, remaining: 2, resetAtMs: 0, startedAt: 0 }, 0, 1);
		window.started(10);
		window.started(20);
		expect(window.roomAt(30, 2)).toBeUndefined();
		expect(window.roomAt(60_000, 1)).toBeUndefined();
		expect(window.roomAt(30, 0)).toBe(0);
	});
});

describe("KeyWindow: others' share of the key", () => {
	test('others counted at the first answer are spread over the minute before it: busy others leave this process a tenth', () => {
		const window = new KeyWindow(MINUTE);
		// A key of 600 a minute; 300 counted, none of them this process's.
		window.observe({ limit: 600, remaining: 300, startedAt: 0 }, 0, 0);
		expect(window.intervalMs(asked, 0)).toBeCloseTo(1_020, 9);
	});

	test('the share follows the paces lately: as many starts as others in the last 5 s, half the key', () => {
		const window = new KeyWindow(MINUTE);
		window.observe({ limit: 600, remaining: 300, startedAt: 0 }, 0, 0);
		// Others' last tenth of the minute (30) arrived at 0; this process starts 30 since.
		for (let at = 1; at <= 30; at++) window.started(at);
		expect(window.intervalMs(asked, 30)).toBeCloseTo(204, 9);
	});

	test('a user that stopped shows at once: 5 s without others\' requests, the key is this process\'s again', () => {
		const window = new KeyWindow(MINUTE);
		window.observe({ limit: 600, remaining: 300, startedAt: 0 }, 0, 0);
		expect(window.intervalMs(asked, 4_999)).toBeCloseTo(1_020, 9);
		expect(window.intervalMs(asked, 5_000)).toBeCloseTo(102, 9);
	});

	test('others take their share of the key, not of a cap far below it: a cap of 300 a minute on a key of 6,000 stays 5 a second while others used 49', () => {
		// A worker killed mid-run left its 49 fires in the key's minute; the execution delivered
		// again on another process starts with those as others' use (the queue-mode redelivery).
		const window = new KeyWindow(MINUTE);
		const cap = { intervalMs: (60_000 / 300) * 1.02, capped: true };
		answered(window, 0, 6_000, 50);
		expect(window.intervalMs(cap, 0)).toBeCloseTo(204, 9);
		expect(window.capHolds(cap, 0)).toBe(true);
		expect(window.othersTakePart(cap, 0)).toBe(false);
		// Without the cap the key's own pace is shared: 10.2 ms over this process's 1 start in 5 s against others' 4.9.
		expect(window.intervalMs({ intervalMs: 10 }, 0)).toBeCloseTo(10.2 * 5.9, 9);
		expect(window.othersTakePart({ intervalMs: 10 }, 0)).toBe(true);
	});

	test('a cap near the key\'s limit: others\' share of the key is what holds the pace, and it is named', () => {
		const window = new KeyWindow(MINUTE);
		const cap = { intervalMs: (60_000 / 600) * 1.02, capped: true };
		// A key of 600 a minute, 300 counted at the first answer, none of them this process's: a tenth of the key.
		window.observe({ limit: 600, remaining: 300, startedAt: 0 }, 0, 0);
		expect(window.intervalMs(cap, 0)).toBeCloseTo(1_020, 9);
		expect(window.othersTakePart(cap, 0)).toBe(true);
		expect(window.capHolds(cap, 0)).toBe(false);
	});

	test('a gateway that counts in fixed windows forgets this process\'s requests at a new window, and others\' use is read from then on', () => {
		const fixed = new KeyWindow(MINUTE);
		// A key of 100 a minute, a start a second, each answered at once. The gateway's window
		// turns between the starts at 30 s and 31 s; by 35 s others made 10 requests in the new one.
		for (let at = 0; at <= 30_000; at += 1_000) answered(fixed, at, 100, at / 1_000 + 1);
		for (let at = 31_000; at < 35_000; at += 1_000) answered(fixed, at, 100, (at - 30_000) / 1_000);
		answered(fixed, 35_000, 100, 5 + 10);

		// Others' 10 against this process's 6 starts over the last 6 s (10 of the key's 600 ms intervals).
		expect(fixed.intervalMs(asked, 35_000)).toBeCloseTo((612 * 16) / 6, 9);
	});
});
