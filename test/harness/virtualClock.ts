import { load, nextTurn } from './system';

interface Clock {
	now(): number;
	sleep(ms: number): Promise<void>;
}

/**
 * Swaps the pacer's clock (the one the node loaded from dist/ uses) for a virtual one for the
 * tests of a file: a wait takes no real time and moves the clock on by exactly its length,
 * so pacing is asserted in exact milliseconds however busy the machine is.
 */
export function useVirtualClock() {
	const { clock } = load('./dist/nodes/Bitrix24Vibecode/transport/clock.js') as { clock: Clock };
	const real = { ...clock };
	const state = { now: 0, sleeps: [] as number[] };
	beforeEach(() => {
		// Never backwards: a key's pace carries over from test to test.
		state.now = Math.max(state.now, real.now());
		state.sleeps = [];
		clock.now = () => state.now;
		clock.sleep = async (ms) => {
			state.sleeps.push(ms);
			await nextTurn();
			state.now += ms;
		};
	});
	afterEach(() => Object.assign(clock, real));
	return state;
}
