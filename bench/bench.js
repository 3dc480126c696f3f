/**
 * npm run bench [-- --quick] [-- --only N] [-- --reset oldest,zero]: the node run through
 * n8n-core's WorkflowExecute against the local Vibecode sandbox. Every row comes from the same run,
 * so ratios compare like with like. --only runs one section (section 6, in real one-minute
 * windows, takes about 18 minutes; section 7, a stream in real time, about 5); --reset picks
 * section 6's readings of X-RateLimit-Reset.
 */
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');

const { getRequestHelperFunctions } = require('n8n-core/dist/execution-engine/node-execution-context/utils/request-helpers/factory');

const { runWorkflow } = require('../test/harness/runWorkflow');
const { startSandbox } = require('../test/sandbox/server');

/** @typedef {import('../test/sandbox/server').Sandbox} Sandbox */

const fireParameters = (options) => ({
	resource: 'trigger',
	operation: 'fire',
	entityType: 'deal',
	entityId: { __rl: true, mode: 'id', value: '={{ $json.id }}' },
	triggerId: { __rl: true, mode: 'id', value: 'payment_received' },
	options,
});

const ids = (n, from = 1) => Array.from({ length: n }, (_, i) => ({ id: from + i }));

/** How the node words a failure after which the trigger may already have fired (an ambiguous fire). */
const MAY_HAVE_FIRED = /may already have fired/;

/**
 * The records of the node's error items that say the trigger may already have fired.
 * @param {Array<{ json: Record<string, any> }>} errors the error output's items
 * @returns {number[]}
 */
function mayHaveFired(errors) {
	return errors
		.filter(({ json }) => MAY_HAVE_FIRED.test(`${json.error?.hint ?? ''}\n${json.error?.description ?? ''}`))
		.map(({ json }) => Number(json.error.entityId ?? json.id));
}

/**
 * Fires records from..from+n-1 in one execution with the error output on.
 * @returns {Promise<{ seconds: number, ok: number, ambiguous: number[] }>} `ambiguous`: the records of
 * the "may have fired" error items
 */
async function fireAll(baseUrl, apiKey, n, options, from = 1, sessionToken = undefined) {
	const started = performance.now();
	const result = await runWorkflow({
		parameters: fireParameters(options),
		items: ids(n, from),
		onError: 'continueErrorOutput',
		credentials: { apiKey, baseUrl, ...(sessionToken && { sessionToken }) },
	});
	const seconds = (performance.now() - started) / 1000;
	if (result.main.length + result.errors.length !== n) throw new Error('items were lost by the engine');
	return { seconds, ok: result.main.length, ambiguous: mayHaveFired(result.errors) };
}

/**
 * Runs under Vibecode's default limit, 300 per minute in a real one-minute window (the node paces
 * by the minute, so the sandbox's compressed windows are for tests that give the node's clock
 * the same window), each with a key of its own; `fire` fires N records with that key and returns
 * when done.
 * @param {number} n
 * @param {Array<[string, (url: string, key: string) => Promise<unknown>]>} runs
 */
async function underLimit(n, runs) {
	const limit = { limit: 300, windowMs: 60_000 };
	const floor = n / (limit.limit / (limit.windowMs / 1000));
	const sandbox = await startSandbox({ rateLimit: limit });
	const rows = [];
	try {
		for (const [label, fire] of runs) {
			const key = `vibe_api_bench_${label.replace(/\W+/g, '_')}`;
			const { id } = sandbox.addKey(key);
			const started = performance.now();
			await fire(sandbox.url, key);
			const seconds = (performance.now() - started) / 1000;
			rows.push({ label, ...tally(sandbox, id, n), seconds, ratio: seconds / floor });
		}
	} finally {
		await sandbox.close();
	}
	return { floor, rows };
}

/** Row 1: one n8n process, with the defaults and with a cap far above the key's limit. */
const rateLimited = (n) =>
	underLimit(n, [
		['node, default options', (url, key) => fireAll(url, key, n, {})],
		[
			'node, Requests per Minute 1,000,000 and 100 in flight, no retry',
			(url, key) => fireAll(url, key, n, { requestsPerMinute: 1e6, maxConcurrent: 100, maxRateLimitRetries: 0 }),
		],
	]);

/**
 * Fires per record of one key: how many were fired once, twice, or not at all.
 * @param {Sandbox} sandbox
 * @param {string} keyId
 * @param {number} n
 */
function tally(sandbox, keyId, n) {
	const fired = new Map();
	for (const f of sandbox.fires) if (f.apiKeyId === keyId) fired.set(Number(f.entityId), (fired.get(Number(f.entityId)) ?? 0) + 1);
	const requests = sandbox.requests.filter((r) => r.apiKeyId === keyId);
	const refused = requests.filter((r) => r.status === 429).length;
	return {
		once: [...fired.values()].filter((c) => c === 1).length,
		lost: n - fired.size,
		twice: [...fired.values()].filter((c) => c > 1).length,
		refused: `${refused} (${((100 * refused) / Math.max(1, requests.length)).toFixed(1)} %)`,
	};
}

/**
 * One n8n process of several: `node scripts/bench.js --worker '{…}'` prints its result as JSON.
 * @param {string} job JSON: url, apiKey, from, count, options
 * @returns {Promise<void>}
 */
async function worker(job) {
	const { url, apiKey, from, count, options } = JSON.parse(job);
	const { seconds, ok, ambiguous } = await fireAll(url, apiKey, count, options, from);
	console.log(JSON.stringify({ seconds, ok, ambiguous }));
}

/** @returns {Promise<{ seconds: number, ok: number, ambiguous: number[] }>} what the worker printed last */
function spawnWorker(job) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [path.join(__dirname, '../scripts/bench.js'), '--worker', JSON.stringify(job)], {
			stdio: ['ignore', 'pipe', 'inherit'],
		});
		let out = '';
		child.stdout.on('data', (chunk) => (out += chunk));
		child.on('error', reject);
		child.on('close', (code) => {
			if (code !== 0) return reject(new Error(`a worker exited with ${code}`));
			const last = out.trim().split('\n').pop();
			try {
				resolve(JSON.parse(last));
			} catch {
				reject(new Error(`a worker printed no result: ${out.slice(-200)}`));
			}
		});
	});
}

/**
 * `count` n8n processes at once, one key, `share` records each (1…share, share+1…, …).
 * @returns {(url: string, key: string) => Promise<Array<{ seconds: number, ok: number, ambiguous: number[] }>>}
 */
const inProcesses = (count, share, options) => (url, key) =>
	Promise.all(
		Array.from({ length: count }, (_, index) => spawnWorker({ url, apiKey: key, from: 1 + index * share, count: share, options })),
	);

/** What any node's requests cost: n8n-core's own HTTP helper, called directly with the same concurrency. */
async function helperAlone(url, apiKey, n, concurrency) {
	const helpers = getRequestHelperFunctions(
		{ id: 'bench', settings: {} },
		{ id: 'bench', name: 'bench', type: 'bench', typeVersion: 1, position: [0, 0], parameters: {} },
		{},
		{ resultData: { runData: {} } },
		[],
	);
	let next = 1;
	const started = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next <= n) {
				const body = { entityType: 'deal', entityId: next++, triggerId: 'payment_received' };
				await helpers.httpRequest({
					method: 'POST',
					url: `${url}/v1/triggers/fire`,
					headers: { 'X-Api-Key': apiKey },
					body,
					json: true,
					returnFullResponse: true,
				});
			}
		}),
	);
	return (performance.now() - started) / 1000;
}

/** The ceiling: the same requests from a plain keep-alive client with the same concurrency. */
async function plainClient(url, apiKey, n, concurrency) {
	const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
	const target = new URL('/v1/triggers/fire', url);
	let next = 1;
	const post = (id) =>
		new Promise((resolve, reject) => {
			const body = JSON.stringify({ entityType: 'deal', entityId: id, triggerId: 'payment_received' });
			const request = http.request(
				target,
				{ method: 'POST', agent, headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json' } },
				(response) => {
					response.resume();
					response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
				},
			);
			request.on('error', reject);
			request.end(body);
		});
	const started = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next <= n) await post(next++);
		}),
	);
	agent.destroy();
	return (performance.now() - started) / 1000;
}

/** Section 2: no limit, 50 ms per answer; throughput against the plain client's. */
async function throughput(n, concurrency) {
	const sandbox = await startSandbox({ rateLimit: false, latencyMs: 50, recordRequests: false });
	try {
		sandbox.addKey('vibe_api_bench_speed');
		sandbox.addKey('vibe_api_bench_plain');
		sandbox.addKey('vibe_api_bench_helper');
		const node = await fireAll(sandbox.url, 'vibe_api_bench_speed', n, {
			requestsPerMinute: 1e6,
			maxConcurrent: concurrency,
		});
		const plain = await plainClient(sandbox.url, 'vibe_api_bench_plain', n, concurrency);
		const helper = await helperAlone(sandbox.url, 'vibe_api_bench_helper', n, concurrency);
		if (sandbox.fires.length !== 3 * n) throw new Error(`expected ${3 * n} fires, got ${sandbox.fires.length}`);
		return { node: n / node.seconds, plain: n / plain, helper: n / helper };
	} finally {
		await sandbox.close();
	}
}

/**
 * A sandbox in its own process, so that the memory measured is the node's and the engine's.
 * @returns {Promise<{ url: string, stop: () => void }>}
 */
async function externalSandbox() {
	const child = spawn(process.execPath, [path.join(__dirname, '../test/sandbox/cli.js'), '--limit', '0'], {
		stdio: ['ignore', 'pipe', 'ignore'],
	});
	const [line] = await readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]);
	return { url: JSON.parse(line).url, stop: () => child.kill('SIGTERM') };
}

/** Section 3: peak resident memory while the node fires N triggers with no limit. */
async function memory(sizes) {
	const sandbox = await externalSandbox();
	const rows = [];
	try {
		for (const n of sizes) {
			global.gc?.();
			const before = process.memoryUsage().rss;
			let peak = before;
			const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
			const { seconds, ok } = await fireAll(sandbox.url, 'vibe_api_sandbox_personal', n, {
				requestsPerMinute: 1e6,
				maxConcurrent: 20,
			});
			clearInterval(sampler);
			rows.push({ n, ok, seconds, before, peak });
		}
	} finally {
		sandbox.stop();
	}
	return rows;
}

/**
 * Section 4: what a run costs in requests at steady state (the trigger list remembered), with an
 * application key and default options, counted by the sandbox.
 * @returns {Promise<Array<{ label: string, items: number, requests: number, fires: number }>>}
 */
async function requestsPerRun() {
	const sandbox = await startSandbox({ rateLimit: false });
	const { app: apiKey, session: sessionToken } = sandbox.keys;
	const rows = [];
	const measure = async (label, n, options) => {
		sandbox.reset();
		await fireAll(sandbox.url, apiKey, n, { requestsPerMinute: 1e6, maxConcurrent: 20, ...options }, 5001, sessionToken);
		const fires = sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').length;
		rows.push({ label, items: n, requests: sandbox.requests.length, fires });
	};
	try {
		await measure('first run of the credential (reads the trigger list)', 1, {});
		await measure('one item, default checks', 1, {});
		await measure('one item, Report Stage Change off', 1, { reportStageChange: false });
		await measure('one item, record check and Report Stage Change off', 1, { checkRecords: false, reportStageChange: false });
		await measure('120 deals, default checks', 120, {});
		await measure('120 deals, Report Stage Change off', 120, { reportStageChange: false });
	} finally {
		await sandbox.close();
	}
	return rows;
}

/**
 * Section 5: what "Fire Once Across Executions" costs, off and on side by side: one bulk execution,
 * and single-item executions one after another (a webhook each), 50 ms per answer; on, also with
 * 10,000 keys remembered (the option's default history). n8n's store is the in-memory model of
 * its row (test/harness/deduplication.js), with no database behind it: its figures are the
 * model's. scripts/bench-fire-once.js (npm run bench:fire-once) measures the same in a real n8n
 * with SQLite and PostgreSQL. Issue 22's goals: a bulk run keeps 0.8 of the rate off, a one-item
 * execution costs at most 2.5 times its time off.
 */
async function fireOnceCost(n, executions) {
	const { MemoryDeduplicationStore, registerDeduplicationStore } = require('../test/harness/deduplication');
	const store = registerDeduplicationStore(new MemoryDeduplicationStore());
	const sandbox = await startSandbox({ rateLimit: false, latencyMs: 50, recordRequests: false });
	const rows = [];
	const cases = [
		{ label: 'off', fireOnce: false, remembered: 0 },
		{ label: 'on', fireOnce: true, remembered: 0 },
		{ label: 'on, 10,000 keys remembered', fireOnce: true, remembered: 10_000 },
	];
	try {
		for (const [index, { label, fireOnce, remembered }] of cases.entries()) {
			await store.quiet();
			store.clear();
			if (remembered) {
				// The node's row as 10,000 earlier fires left it (one value per fired key).
				const keys = Array.from({ length: remembered }, (_, i) => `deal:${900_000 + i}:payment_received`);
				const context = { workflow: { id: 'test-workflow' }, node: { id: 'vibecode' } };
				await store.checkProcessedAndRecord(keys, 'node', context, { mode: 'entries', maxEntries: remembered });
			}
			const key = `vibe_api_bench_once_${index}`;
			sandbox.addKey(key);
			const options = { requestsPerMinute: 1e6, maxConcurrent: 20, checkRecords: false, reportStageChange: false, fireOnce };
			// New records each time: with the option on, a record fired before would be skipped.
			const from = 1 + index * 100_000;
			const bulk = await fireAll(sandbox.url, key, n, options, from);
			const started = performance.now();
			for (let i = 0; i < executions; i++) await fireAll(sandbox.url, key, 1, options, from + n + i);
			const single = (performance.now() - started) / 1000;
			rows.push({ label, bulk: n / bulk.seconds, single: executions / single, perExecution: single / executions });
		}
		const expected = cases.length * (n + executions);
		if (sandbox.fires.length !== expected) throw new Error(`expected ${expected} fires, got ${sandbox.fires.length}`);
	} finally {
		await sandbox.close();
	}
	return rows;
}

/**
 * One row of section 6: a sandbox of its own whose key has a real per-minute limit (a 60 s window,
 * as the node will read it from X-RateLimit-Limit) answering X-RateLimit-Reset in one reading,
 * optionally the portal's bucket behind it, and the node with its default options (`options` = {}),
 * in one n8n process or several.
 * @param {{ label: string, keyLimit: number, n: number, floorPerSecond: number, reset: string,
 *   portal?: { drainPerSecond: number, burst: number }, processes?: number }} row
 */
async function realWindowRow({ label, keyLimit, n, floorPerSecond, reset, portal = undefined, processes = 1 }) {
	const sandbox = await startSandbox({ rateLimit: { limit: keyLimit, windowMs: 60_000, reset }, portal: portal ?? false });
	try {
		const { id } = sandbox.addKey('vibe_api_bench_real_window', { limit: keyLimit });
		const started = performance.now();
		const runs =
			processes === 1
				? [await fireAll(sandbox.url, 'vibe_api_bench_real_window', n, {})]
				: await inProcesses(processes, n / processes, {})(sandbox.url, 'vibe_api_bench_real_window');
		const seconds = (performance.now() - started) / 1000;
		const ambiguous = runs.flatMap((r) => r.ambiguous);
		const fired = new Set(sandbox.fires.filter((f) => f.apiKeyId === id).map((f) => Number(f.entityId)));
		const floor = n / floorPerSecond;
		// Section 6 takes many minutes: progress on stderr, the table at the end.
		console.error(`${reset}, ${label}: ${s(seconds)}, ${ambiguous.length} "may have fired"`);
		return {
			label: `${label} (floor ${s(floor)})`,
			reset,
			...tally(sandbox, id, n),
			ambiguous: ambiguous.length,
			// "May have fired" against what the sandbox saw: how many of those records did fire.
			ambiguousFired: ambiguous.filter((entityId) => fired.has(entityId)).length,
			portalRefusals: sandbox.portalRefusals,
			seconds,
			ratio: seconds / floor,
		};
	} finally {
		await sandbox.close();
	}
}

/** What X-RateLimit-Reset holds, as gateways differ (test/sandbox/rate-limit.js). */
const READINGS = {
	oldest: 'when the oldest request leaves a sliding window',
	window: 'the end of the current fixed window',
	zero: '0 while the window has room',
};

/**
 * Section 6: the key's real per-minute limit and the portal behind it, the node's default options,
 * in each reading of X-RateLimit-Reset; the rows run one after another, each against its own sandbox.
 * @param {boolean} quick
 * @param {string[]} readings
 */
async function keyAndPortal(quick, readings) {
	const rows = [];
	for (const reset of readings) {
		const nb = quick ? 60 : 200;
		rows.push(await realWindowRow({ label: `a. key 600 per minute, N = ${nb}`, keyLimit: 600, n: nb, floorPerSecond: 600 / 60, reset }));
		const na = quick ? 20 : 90;
		rows.push(await realWindowRow({ label: `b. key 60 per minute, N = ${na}`, keyLimit: 60, n: na, floorPerSecond: 60 / 60, reset }));
		// More fires than the key's window holds, so that the processes must share its rate.
		const each = quick ? 30 : 100;
		const sharedLimit = quick ? 60 : 150;
		rows.push(
			await realWindowRow({
				label: `c. 3 n8n processes on one key of ${sharedLimit} per minute, ${each} each`,
				keyLimit: sharedLimit,
				n: 3 * each,
				floorPerSecond: sharedLimit / 60,
				processes: 3,
				reset,
			}),
		);
		const nd = quick ? 80 : 200;
		rows.push(
			await realWindowRow({
				label: `d. Vibecode's default key (300 per minute) behind a standard portal (2 per s, burst 50), N = ${nd}`,
				keyLimit: 300,
				n: nd,
				floorPerSecond: 2,
				portal: { drainPerSecond: 2, burst: 50 },
				reset,
			}),
		);
	}
	return rows;
}

/**
 * One execution of a webhook stream: one deal, its own run of the workflow, the error output on.
 * @returns {Promise<'fired' | 'ambiguous' | 'failed'>}
 */
async function oneDeal(url, apiKey, dealId, options) {
	const result = await runWorkflow({
		parameters: fireParameters(options),
		items: [{ id: dealId }],
		onError: 'continueErrorOutput',
		credentials: { apiKey, baseUrl: url },
	});
	if (result.main.length === 1) return 'fired';
	return mayHaveFired(result.errors).length ? 'ambiguous' : 'failed';
}

/** The same fire sent by n8n-core's HTTP helper (what the HTTP Request node sends): one request, no checks. */
async function oneRequest(url, apiKey, dealId) {
	const helpers = getRequestHelperFunctions(
		{ id: 'bench', settings: {} },
		{ id: 'bench', name: 'bench', type: 'bench', typeVersion: 1, position: [0, 0], parameters: {} },
		{},
		{ resultData: { runData: {} } },
		[],
	);
	const response = await helpers.httpRequest({
		method: 'POST',
		url: `${url}/v1/triggers/fire`,
		headers: { 'X-Api-Key': apiKey },
		body: { entityType: 'deal', entityId: dealId, triggerId: 'payment_received' },
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	});
	if (response.statusCode === 200) return 'fired';
	return response.statusCode >= 500 ? 'ambiguous' : 'failed';
}

const percentile = (values, p) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

/**
 * One row of section 7: `perSecond` one-deal executions a second for `seconds`, each started on
 * time whether the earlier ones have answered or not (a webhook's sender does not wait), against
 * Vibecode's default key (300 per minute, a real 60 s window) behind a standard portal (2 per s,
 * burst 50), 150 ms per answer, a sandbox of its own.
 */
async function streamRow({ label, perSecond, seconds, send }) {
	const sandbox = await startSandbox({
		rateLimit: { limit: 300, windowMs: 60_000 },
		portal: { drainPerSecond: 2, burst: 50 },
		latencyMs: 150,
	});
	try {
		const key = 'vibe_api_bench_stream';
		const { id } = sandbox.addKey(key);
		const count = Math.round(perSecond * seconds);
		const started = performance.now();
		const answers = [];
		for (let i = 0; i < count; i++) {
			const due = started + (1000 * i) / perSecond;
			await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
			const sentAt = performance.now();
			answers.push(send(sandbox.url, key, 10_001 + i).then((outcome) => ({ sentAt, ms: performance.now() - sentAt, outcome })));
		}
		const done = await Promise.all(answers);
		const fires = sandbox.fires.filter((f) => f.apiKeyId === id).length;
		const requests = sandbox.requests.filter((r) => r.apiKeyId === id).length;
		const minute = (from, to) => done.filter((a) => a.sentAt - started >= from && a.sentAt - started < to).map((a) => a.ms);
		const span = 1000 * seconds;
		console.error(`${label}, ${perSecond} a second: done`);
		return {
			label,
			perSecond,
			count,
			...tally(sandbox, id, count),
			ambiguous: done.filter((a) => a.outcome === 'ambiguous').length,
			failed: done.filter((a) => a.outcome === 'failed').length,
			perFire: requests / Math.max(1, fires),
			p50: percentile(done.map((a) => a.ms), 50),
			p95: percentile(done.map((a) => a.ms), 95),
			// The first and the last minute (or third, in a shorter run): the stream must not fall behind.
			p95First: percentile(minute(0, Math.min(60_000, span / 3)), 95),
			p95Last: percentile(minute(Math.max(span - 60_000, (2 * span) / 3), span), 95),
			portalRefusals: sandbox.portalRefusals,
		};
	} finally {
		await sandbox.close();
	}
}

/**
 * Section 7: a stream of one-deal executions, the commonest load (a webhook per event), at 60 %
 * and 90 % of what a standard portal drains; the node with its default options, with its checks
 * off, and the bare request. The rows of one rate run side by side, each against its own sandbox.
 */
async function stream(quick) {
	const rows = [];
	for (const [perSecond, seconds] of [
		[1.2, quick ? 40 : 90],
		[1.8, quick ? 60 : 180],
	]) {
		rows.push(
			...(await Promise.all([
				streamRow({ label: 'this node, default options', perSecond, seconds, send: (url, key, deal) => oneDeal(url, key, deal, {}) }),
				streamRow({
					label: 'this node, record check and stage report off',
					perSecond,
					seconds,
					send: (url, key, deal) => oneDeal(url, key, deal, { checkRecords: false, reportStageChange: false }),
				}),
				streamRow({ label: "n8n-core's HTTP helper alone (what the HTTP Request node sends)", perSecond, seconds, send: oneRequest }),
			])),
		);
	}
	return rows;
}

/**
 * Section 8: what telling people costs (issue 33): one-item executions, no pace, the record check and the
 * stage report off (one request each, so that the node's own work shows), 50 ms per answer, as built (hints, custom data, the log's lines) and with the tell and progress stages
 * replaced by nothing, in alternating rounds so that the machine's noise falls on both alike.
 */
async function tellingCost(rounds, perRound) {
	const { PACKAGE_ROOT } = require('../test/harness/system');
	const stages = path.join(PACKAGE_ROOT, 'dist/nodes/Bitrix24Vibecode/resources/trigger/stages');
	const tell = require(path.join(stages, 'tell.js'));
	const progress = require(path.join(stages, 'progress.js'));
	const built = { tellPeople: tell.tellPeople, noteProgress: progress.noteProgress };
	const silent = (on) => {
		tell.tellPeople = on ? built.tellPeople : () => {};
		progress.noteProgress = on ? built.noteProgress : () => {};
	};
	const sandbox = await startSandbox({ rateLimit: false, latencyMs: 50, recordRequests: false });
	const ms = { with: 0, without: 0 };
	let deal = 1;
	try {
		sandbox.addKey('vibe_api_bench_telling');
		const options = { requestsPerMinute: 1e6, checkRecords: false, reportStageChange: false };
		await fireAll(sandbox.url, 'vibe_api_bench_telling', 1, options, deal++);
		for (let round = 0; round < rounds; round++) {
			for (const mode of round % 2 ? ['without', 'with'] : ['with', 'without']) {
				silent(mode === 'with');
				const started = performance.now();
				for (let i = 0; i < perRound; i++) await fireAll(sandbox.url, 'vibe_api_bench_telling', 1, options, deal++);
				ms[mode] += performance.now() - started;
			}
		}
	} finally {
		silent(true);
		await sandbox.close();
	}
	const n = rounds * perRound;
	return { with: ms.with / n, without: ms.without / n, n };
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const s = (seconds) => `${seconds.toFixed(1)} s`;

/** The table of section 1: each run's fires per record and its time against the floor. */
function printFireRuns(rows) {
	console.log('| run | delivered exactly once | lost | fired twice | 429 answers | wall time | wall / floor |');
	console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
	for (const r of rows) {
		console.log(`| ${r.label} | ${r.once} | ${r.lost} | ${r.twice} | ${r.refused} | ${s(r.seconds)} | ${r.ratio.toFixed(2)} |`);
	}
}

/** The table of section 6: section 1's columns plus the "may have fired" error items. */
function printRealWindowRuns(rows) {
	console.log('| Reset | run | delivered exactly once | lost | fired twice | 429 answers | "may have fired" items (of them fired) | wall time | wall / floor |');
	console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
	for (const r of rows) {
		console.log(
			`| ${r.reset} | ${r.label} | ${r.once} | ${r.lost} | ${r.twice} | ${r.refused} | ${r.ambiguous} (${r.ambiguousFired}) | ${s(r.seconds)} | ${r.ratio.toFixed(2)} |`,
		);
	}
	for (const r of rows) {
		if (r.portalRefusals > 0) console.log(`\n${r.reset}, ${r.label.split('.')[0]}: the portal refused ${r.portalRefusals} requests (502 BITRIX_UNAVAILABLE, not applied).`);
	}
}

/**
 * @param {string[]} argv the arguments after the script, e.g. ['--quick']
 * @returns {Promise<void>}
 */
async function main(argv) {
	const quick = argv.includes('--quick');
	// --only N: one section (e.g. --only 5 while tuning Fire Once).
	const only = argv.includes('--only') ? Number(argv[argv.indexOf('--only') + 1]) : undefined;
	// --reset oldest,zero: section 6 in these readings of X-RateLimit-Reset only.
	const readings = argv.includes('--reset') ? argv[argv.indexOf('--reset') + 1].split(',') : Object.keys(READINGS);
	const unknown = readings.filter((reading) => !(reading in READINGS));
	if (unknown.length) throw new Error(`--reset: unknown reading ${unknown.join(', ')} (${Object.keys(READINGS).join(', ')})`);
	const wanted = (section) => only === undefined || only === section;
	const n1 = quick ? 60 : 400;
	const n2 = quick ? 300 : 2_000;
	const n3 = quick ? [1_000] : [1_000, 10_000];
	console.log(`Bench on Node ${process.version}, ${new Date().toISOString()}${quick ? ' (quick)' : ''}\n`);

	if (wanted(1)) {
		const limited = await rateLimited(n1);
		console.log(`1. N = ${n1}, gateway limit 300 per minute (floor N / 5 per s = ${s(limited.floor)})\n`);
		printFireRuns(limited.rows);
	}

	if (wanted(2)) {
		const concurrency = 20;
		const speed = await throughput(n2, concurrency);
		console.log(`\n2. N = ${n2}, no limit, 50 ms per answer, ${concurrency} in flight\n`);
		console.log('| client | requests per second | share of the ceiling |');
		console.log('| --- | ---: | ---: |');
		const share = (rate) => `${((100 * rate) / speed.plain).toFixed(0)} %`;
		console.log(`| plain Node.js keep-alive client (ceiling) | ${speed.plain.toFixed(0)} | 100 % |`);
		console.log(`| n8n-core's HTTP helper alone, no node (what any node's requests cost) | ${speed.helper.toFixed(0)} | ${share(speed.helper)} |`);
		console.log(`| this node through n8n's engine | ${speed.node.toFixed(0)} | ${share(speed.node)} |`);
	}

	if (wanted(3)) {
		const mem = await memory(n3);
		console.log('\n3. No limit, 20 in flight, sandbox in its own process\n');
		console.log('| items | succeeded | wall time | RSS before | peak RSS |');
		console.log('| ---: | ---: | ---: | ---: | ---: |');
		for (const r of mem) console.log(`| ${r.n} | ${r.ok} | ${s(r.seconds)} | ${mb(r.before)} | ${mb(r.peak)} |`);
	}

	if (wanted(4)) {
		const costs = await requestsPerRun();
		console.log('\n4. Requests per run, application key, default options unless said\n');
		console.log('| run | items | requests | of them fires | extra requests per fire |');
		console.log('| --- | ---: | ---: | ---: | ---: |');
		for (const r of costs) {
			console.log(`| ${r.label} | ${r.items} | ${r.requests} | ${r.fires} | ${((r.requests - r.fires) / r.fires).toFixed(3)} |`);
		}
	}

	if (wanted(5)) {
		const n6 = quick ? 300 : 2_000;
		const executions = quick ? 20 : 50;
		const once = await fireOnceCost(n6, executions);
		console.log(
			`\n5. "Fire Once Across Executions" off and on, n8n's store the in-memory model of its row (test/harness/deduplication.js, no database; a real n8n: npm run bench:fire-once): ${n6} items in one execution, then ${executions} one-item executions in turn; no limit, 50 ms per answer, 20 in flight\n`,
		);
		console.log('| Fire Once | bulk: fires per second | of the rate off | one-item executions per second | time per one-item execution | times the time off |');
		console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
		const [off] = once;
		const times = (x) => `${x.toFixed(2)} ×`;
		for (const r of once) {
			const perExecution = `${(1000 * r.perExecution).toFixed(0)} ms`;
			console.log(`| ${r.label} | ${r.bulk.toFixed(0)} | ${times(r.bulk / off.bulk)} | ${r.single.toFixed(1)} | ${perExecution} | ${times(r.perExecution / off.perExecution)} |`);
		}
	}

	if (wanted(7)) {
		const rows = await stream(quick);
		console.log(
			"\n7. A stream of one-deal executions (a webhook each), started on time; Vibecode's default key (300 per minute, real 60 s window) behind a standard portal (2 per s, burst 50), 150 ms per answer\n",
		);
		console.log('| events per second | workflow | executions | fired once | fired twice | "may have fired" / failed | requests per fire | answer p50 | answer p95 | p95 first minute / last minute | portal refusals |');
		console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
		const ms = (x) => (x >= 1000 ? s(x / 1000) : `${x.toFixed(0)} ms`);
		for (const r of rows) {
			console.log(
				`| ${r.perSecond} | ${r.label} | ${r.count} | ${r.once} | ${r.twice} | ${r.ambiguous} / ${r.failed} | ${r.perFire.toFixed(2)} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p95First)} / ${ms(r.p95Last)} | ${r.portalRefusals} |`,
			);
		}
	}

	if (wanted(8)) {
		const cost = await tellingCost(quick ? 4 : 10, quick ? 5 : 10);
		console.log(`\n8. What telling people costs: ${cost.n} one-item executions each way, no limit, record check and stage report off, 50 ms per answer, in alternating rounds\n`);
		console.log('| run | time per one-item execution | times the time without |');
		console.log('| --- | ---: | ---: |');
		console.log(`| as built: hints, custom data, log lines | ${cost.with.toFixed(1)} ms | ${(cost.with / cost.without).toFixed(3)} × |`);
		console.log(`| the tell and progress stages replaced by nothing | ${cost.without.toFixed(1)} ms | 1.000 × |`);
	}

	if (wanted(6)) {
		const real = await keyAndPortal(quick, readings);
		console.log(
			"\n6. The key's limit and the portal, default options: each row a key with a real 60 s window, its own sandbox, one row after another, in each reading of X-RateLimit-Reset\n",
		);
		for (const reading of readings) console.log(`- ${reading}: ${READINGS[reading]}`);
		console.log('');
		printRealWindowRuns(real);
	}
}

module.exports = { main, worker };
