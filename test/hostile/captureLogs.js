'use strict';

// JavaScript, as test tooling that takes over process streams: n8n's lint rules for node code
// cover every .ts file (test/harness/system.js says more).

const { format, inspect } = require('node:util');

/**
 * Import first: n8n's Logger reads N8N_LOG_LEVEL and binds the console's methods when it is
 * created (at the first package load). Everything the node and n8n write to the console,
 * stdout or stderr from then on lands in `logged` instead; jest.restoreAllMocks() ends it.
 */
process.env.N8N_LOG_LEVEL = 'debug';
// JSON, so that log metadata is printed as well as messages.
process.env.N8N_LOG_FORMAT = 'json';

/** @type {string[]} */
const logged = [];

for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
	jest.spyOn(console, method).mockImplementation((...args) => void logged.push(format(...args)));
}
const capture = (chunk) => {
	logged.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
	return true;
};
// winston writes to console._stdout/_stderr where they exist, which under jest need not be process's.
const { _stdout, _stderr } = /** @type {any} */ (console);
for (const stream of new Set([process.stdout, process.stderr, _stdout, _stderr])) {
	if (stream) jest.spyOn(stream, 'write').mockImplementation(capture);
}

const SHOW_ALL = { depth: null, showHidden: true, maxArrayLength: null, maxStringLength: null };
/**
 * As serialized (what n8n stores) and as inspected with hidden properties (error messages, stacks, causes).
 * @param {unknown} value
 */
const printed = (value) => `${JSON.stringify(value) ?? ''}\n${inspect(value, SHOW_ALL)}`;

module.exports = { logged, printed };
