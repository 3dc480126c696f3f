'use strict';

// Virtual time for workflow tests in which several pacers sleep at once (one per n8n process)
// and the sandbox answers in the same time. The clock jumps to the earliest wake-up only once
// nothing else is going on: no HTTP request of this process in flight, and a few turns of the
// event loop with nothing new. Every request is thus answered at the virtual moment it was sent,
// and a run takes the same virtual time however busy the machine is. JavaScript, as system.js:
// it takes Node's own diagnostics channel and timers.

const diagnosticsChannel = require('node:diagnostics_channel');
const { nextTurn, delay } = require('./system');

/**
 * @param {{ start: number, windowMs: number, onMove: (at: number) => void }} options `onMove` is told
 * every new time (the test moves its faked Date there, which the sandbox reads)
 */
function eventClock({ start, windowMs, onMove }) {
	/** @type {Array<{ at: number, seq: number, wake: () => void }>} */
	const timers = [];
	let seq = 0;
	let inFlight = 0;
	/** @param {{ request: import('node:http').ClientRequest }} message */
	const onRequest = ({ request }) => {
		inFlight++;
		request.once('close', () => inFlight--);
	};
	const clock = {
		at: start,
		windowMs,
		/** Every wait asked for, in milliseconds, in order. */
		sleeps: /** @type {number[]} */ ([]),
		now: () => clock.at,
		/** @param {number} ms */
		sleep: (ms) => {
			clock.sleeps.push(ms);
			return clock.after(ms);
		},
		/** A wait of the test's own (a slow store call), not recorded in `sleeps`. @param {number} ms @returns {Promise<void>} */
		after: (ms) => new Promise((wake) => timers.push({ at: clock.at + Math.max(0, ms), seq: seq++, wake })),
		/**
		 * Work outside HTTP that the clock must not jump over (a call on a test's store): counted as
		 * a request in flight until it ends. @template T @param {Promise<T>} work @returns {Promise<T>}
		 */
		async busy(work) {
			inFlight++;
			try {
				return await work;
			} finally {
				inFlight--;
			}
		},
		/** Virtual milliseconds since `from` (default: the clock's start). */
		elapsed: (from = start) => clock.at - from,
		/**
		 * Runs `work` to its end, moving the clock whenever everything waits for it.
		 * @template T @param {Promise<T>} work @returns {Promise<T>}
		 */
		async runUntil(work) {
			let finished = false;
			work.then(
				() => (finished = true),
				() => (finished = true),
			);
			diagnosticsChannel.subscribe('http.client.request.start', onRequest);
			try {
				while (!finished) {
					for (let quiet = 0; quiet < 3 && !finished; ) {
						await nextTurn();
						quiet = inFlight > 0 ? 0 : quiet + 1;
					}
					if (finished) break;
					// Nothing asleep: the engine is busy outside the clock (loading, between nodes).
					if (!timers.length) {
						await delay(1);
						continue;
					}
					timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
					const next = /** @type {(typeof timers)[number]} */ (timers.shift());
					clock.at = Math.max(clock.at, next.at);
					onMove(clock.at);
					next.wake();
				}
			} finally {
				diagnosticsChannel.unsubscribe('http.client.request.start', onRequest);
			}
			return await work;
		},
	};
	return clock;
}

module.exports = { eventClock };
