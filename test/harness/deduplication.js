'use strict';

// n8n's deduplication store (what Remove Duplicates and "Fire Once Across Executions" keep their
// history in), in memory. A server-side model (packages/cli, not a library), following n8n
// 1.123.81's `dist/deduplication/deduplication-helper.js`:
// - one row per (workflow id, context); the context is `n:<node id>` for scope 'node', '' for
//   scope 'workflow';
// - mode 'entries' keeps the md5 (base64) of String(value) of each value; `maxEntries` keeps the
//   newest; a value repeated within one call is new each time (not collapsed);
// - every call reads the row, computes, then inserts a new row or overwrites the whole row, even
//   when nothing changed. Nothing makes that atomic: other calls run between the read and the
//   write (here: a turn of the event loop each), so two calls can both see a value as new and
//   the later write erases what the earlier one recorded. Two first inserts of a row at once
//   fail one of them with a duplicate key error, as the table's primary key does.
// n8n's server registers its store with n8n-core's DataDeduplicationService.init at start.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { load, nextTurn } = require('./system');

const hash = (value) => crypto.createHash('md5').update(value.toString()).digest('base64');

class MemoryDeduplicationStore {
	/**
	 * @param {{ clock?: { after: (ms: number) => Promise<void>, busy: <T>(work: Promise<T>) => Promise<T>, runUntil: <T>(work: Promise<T>) => Promise<T> } }} [options]
	 * With the test's event clock (./eventClock.js), the clock does not move during a call, as no
	 * real time passes in one, and `quiet` lets virtual time pass instead of real time.
	 */
	constructor({ clock } = {}) {
		this.clock = clock;
		/** @type {Map<string, { mode: string, data: string[] }>} */
		this.rows = new Map();
		/** Errors the next calls throw, in turn (a database that is down). */
		this.failures = [];
		this.calls = 0;
		this.lastCallAt = 0;
	}

	/**
	 * Resolves once no call has come for `quietMs`: the node removes an execution's answered
	 * values a second time a moment after the execution ends, and a test that counts calls or
	 * injects failures must not meet the previous test's.
	 */
	async quiet(quietMs = 300) {
		// A virtual minute: the node's last looks at the store wait on its clock, a settle or a few.
		if (this.clock) return await this.clock.runUntil(this.clock.after(60_000));
		while (Date.now() - this.lastCallAt < quietMs) await new Promise((resolve) => setTimeout(resolve, quietMs));
	}

	static rowOf(scope, contextData) {
		assert.ok(contextData.workflow.id);
		if (scope === 'node') assert.ok(contextData.node, "No node information has been provided and so cannot use scope 'node'");
		return `${contextData.workflow.id}\n${scope === 'node' ? `n:${contextData.node.id}` : ''}`;
	}

	async read(row) {
		this.calls++;
		this.lastCallAt = Date.now();
		if (this.failures.length) throw this.failures.shift();
		await nextTurn();
		const found = this.rows.get(row);
		return found && { mode: found.mode, data: [...found.data] };
	}

	async write(row, value, { insert }) {
		await nextTurn();
		if (insert && this.rows.has(row)) throw new Error('duplicate key value violates unique constraint "PK_processed_data"');
		this.rows.set(row, value);
	}

	async checkProcessedAndRecord(items, scope, contextData, options) {
		return await this.#call(async () => await this.#checkProcessedAndRecord(items, scope, contextData, options));
	}

	async removeProcessed(items, scope, contextData) {
		return await this.#call(async () => await this.#removeProcessed(items, scope, contextData));
	}

	/** @template T @param {() => Promise<T>} work @returns {Promise<T>} */
	async #call(work) {
		return this.clock ? await this.clock.busy(work()) : await work();
	}

	async #checkProcessedAndRecord(items, scope, contextData, options) {
		assert.equal(options.mode, 'entries', 'only the mode "entries" is modelled');
		const row = MemoryDeduplicationStore.rowOf(scope, contextData);
		const found = await this.read(row);
		const hashed = items.map(hash);
		if (!found) {
			if (options.maxEntries) hashed.splice(0, hashed.length - options.maxEntries);
			await this.write(row, { mode: options.mode, data: hashed }, { insert: true });
			return { new: items, processed: [] };
		}
		const seen = new Set(found.data);
		const result = { new: [], processed: [] };
		hashed.forEach((value, index) => {
			if (seen.has(value)) result.processed.push(items[index]);
			else {
				result.new.push(items[index]);
				found.data.push(value);
			}
		});
		if (options.maxEntries) found.data.splice(0, found.data.length - options.maxEntries);
		await this.write(row, found, { insert: false });
		return result;
	}

	async #removeProcessed(items, scope, contextData) {
		const row = MemoryDeduplicationStore.rowOf(scope, contextData);
		const found = await this.read(row);
		if (!found) return;
		for (const value of items.map(hash)) {
			const index = found.data.indexOf(value);
			if (index !== -1) found.data.splice(index, 1);
		}
		await this.write(row, found, { insert: false });
	}

	async clearAllProcessedItems(scope, contextData) {
		this.rows.delete(MemoryDeduplicationStore.rowOf(scope, contextData));
	}

	async getProcessedDataCount(scope, contextData) {
		return this.rows.get(MemoryDeduplicationStore.rowOf(scope, contextData))?.data.length ?? 0;
	}

	/** Whether a node's row holds a value (test/harness/runWorkflow.ts names the workflow and node). */
	holds(value, { workflowId = 'test-workflow', nodeId = 'vibecode' } = {}) {
		return this.rows.get(`${workflowId}\nn:${nodeId}`)?.data.includes(hash(value)) ?? false;
	}

	clear() {
		this.rows.clear();
		this.failures = [];
		this.calls = 0;
	}
}

/**
 * Registers `store` as n8n's deduplication store in this jest module registry (n8n-core keeps one
 * per registry; a second init throws), as n8n's server does at start.
 */
function registerDeduplicationStore(store) {
	const { DataDeduplicationService } = load('n8n-core');
	DataDeduplicationService.init(store);
	return store;
}

module.exports = { MemoryDeduplicationStore, registerDeduplicationStore };
