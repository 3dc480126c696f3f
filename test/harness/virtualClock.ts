import type { Clock } from '../../nodes/Bitrix24Vibecode/transport/clock';
import { eventClock } from './eventClock';
import { fakeDateOnly, nextTurn, PACKAGE_ROOT } from './system';

// The one place a workflow test gets its clock from, each replacing the built node's single clock
// seam (transport/clock.js `systemClock`) for the test file: virtual (useVirtualClock), shared by
// several n8n processes, n8n's store and the sandbox (useEventClock), or real with the key's
// window compressed (useCompressedWindow, the soak suites). Unit tests of the source give a
// Pacer a virtualClock() of their own directly.

/** The module of the built node that gives its pacers (and Fire Once's waits) their clock. */
const BUILT_CLOCK = `${PACKAGE_ROOT}/dist/nodes/Bitrix24Vibecode/transport/clock.js`;

/** The node's window is Vibecode's minute; a suite against a sandbox whose window is compressed gives it the same. */
interface ClockOptions {
	windowMs?: number;
}

/** A clock that moves only when the node waits, by exactly the wait, and takes no real time. */
export interface VirtualClock extends Clock {
	/** The clock's time. */
	at: number;
	/** Every wait the node asked for, in order. */
	sleeps: number[];
	/** Called as a wait begins (before the clock moves): a test may act "during" the wait. */
	onSleep?: (ms: number) => void;
}

/** A virtual clock: given to a Pacer directly by unit tests of the source, injected by useVirtualClock. */
export function virtualClock({ windowMs = 60_000 }: ClockOptions = {}): VirtualClock {
	const clock: VirtualClock = {
		at: 0,
		sleeps: [],
		windowMs,
		now: () => clock.at,
		sleep: async (ms: number) => {
			clock.sleeps.push(ms);
			clock.onSleep?.(ms);
			await nextTurn();
			clock.at += ms;
		},
	};
	return clock;
}

/**
 * A virtual clock for the built node in this test file, so that pacing is asserted in exact
 * milliseconds however busy the machine is. It is injected as a dependency: jest gives this
 * file's module registry the virtual clock in place of the node's clock module when n8n's loader
 * loads the package (call it at the top of the file, before anything loads the package). The
 * built files are not touched.
 */
export function useVirtualClock(options: ClockOptions = {}): VirtualClock {
	const clock = virtualClock(options);
	jest.doMock(BUILT_CLOCK, () => ({ systemClock: clock }));
	beforeEach(() => {
		// Never backwards: a key's pace carries over from test to test.
		clock.at = Math.max(clock.at, Date.now());
		clock.sleeps = [];
	});
	return clock;
}

/**
 * The node's own clock, real time, with the key's window compressed as the sandbox's is: for
 * suites that run against the sandbox in real time (the soak suites, *.soak.ts). Injected as useVirtualClock's.
 */
export function useCompressedWindow(windowMs: number) {
	jest.doMock(BUILT_CLOCK, () => {
		const { systemClock } = jest.requireActual(BUILT_CLOCK) as { systemClock: Clock };
		return { systemClock: { ...systemClock, windowMs } };
	});
}

/**
 * Virtual time shared by every n8n process of this test file (each jest module registry that
 * loads the package) and by the sandbox: pacers sleep at once, and the clock jumps to the earliest
 * wake-up when nothing is in flight (./eventClock.js). Date is faked to the clock's time, so the
 * sandbox's key window and portal bucket count in it. Run the work with `clock.runUntil`; give
 * n8n's model store the clock (`new MemoryDeduplicationStore({ clock })`) so that the clock holds
 * still during its calls; `clock.sleeps` records the node's waits.
 */
export function useEventClock({ start, windowMs = 60_000 }: { start: number } & ClockOptions) {
	const clock = eventClock({ start, windowMs, onMove: (at: number) => jest.setSystemTime(at) });
	jest.doMock(BUILT_CLOCK, () => ({ systemClock: clock }));
	beforeAll(() => fakeDateOnly(clock.at));
	afterAll(() => jest.useRealTimers());
	return clock;
}
