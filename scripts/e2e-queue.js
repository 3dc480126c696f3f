#!/usr/bin/env node
'use strict';

// Queue-mode end-to-end check: the built package in a real n8n (the 2.x pinned in tools/n8n2;
// VIBECODE_N8N=1 or --n8n1: the 1.x in tools/n8n) run as one
// main and two workers, sharing a private PostgreSQL and Redis that this script starts (and
// installs from Debian's packages when they are missing), against the local Vibecode sandbox.
// The workflows are test/e2e/queue/*.json: production webhooks whose executions run on the
// workers; each answers with the worker that ran it (E2E_WORKER, read through $env).
// Usage: npm run e2e:queue   (KEEP=1 keeps the scratch folder: logs, user folders, database;
// E2E_QUEUE_ROUNDS=N runs the simultaneous same-key deliveries N rounds, default 30;
// E2E_ONLY=crash runs only (h), the worker killed mid-run; E2E_ONLY=cases only (a)–(g))

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const crashChecks = require('./lib/crash-checks');
const local = require('./lib/n8n-local');
const { ensureServices, startPostgres, postgresEnv } = require('./lib/postgres');

const { startSandbox } = require(path.join(local.ROOT, 'test', 'sandbox', 'server.js'));
const WORKFLOW_DIR = path.join(local.ROOT, 'test', 'e2e', 'queue');
const KEEP = Boolean(process.env.KEEP);
/** E2E_ONLY=cases|crash (comma list): which checks run; all by default. */
const ONLY = process.env.E2E_ONLY ? new Set(process.env.E2E_ONLY.split(',').map((p) => p.trim())) : null;

const log = (...args) => console.log(...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Processes

/** Everything started here, stopped by cleanup() in reverse order. */
const stops = [];
const logFiles = [];

async function step(label, fn) {
	const t0 = Date.now();
	log(`${label}…`);
	try {
		return await fn();
	} finally {
		log(`  done in ${local.elapsed(t0)}`);
	}
}

/** A long-running child whose output goes to a log file. */
function startLogged(name, cmd, args, { env, cwd, logFile }) {
	const fd = fs.openSync(logFile, 'a');
	const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', fd, fd] });
	fs.closeSync(fd);
	child.name = name;
	child.logFile = logFile;
	logFiles.push(logFile);
	child.on('error', (err) => log(`  ${name}: ${err.message}`));
	stops.push({ name, stop: () => stopChild(child) });
	return child;
}

function stopChild(child, graceMs = 15000) {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
		child.once('exit', () => {
			clearTimeout(timer);
			resolve();
		});
		child.kill('SIGTERM');
	});
}

let cleaning = null;
let aborted = false;
function cleanup() {
	cleaning ??= (async () => {
		while (stops.length) {
			// the n8n processes together, then the sandbox, Redis, PostgreSQL, the folder
			const batch = [stops.pop()];
			while (stops.length && stops[stops.length - 1].group && stops[stops.length - 1].group === batch[0].group) batch.push(stops.pop());
			await Promise.all(
				batch.map(({ name, stop }) =>
					Promise.resolve()
						.then(stop)
						.catch((err) => log(`  stopping ${name}: ${err.message}`)),
				),
			);
		}
	})();
	return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.on(signal, () => {
		log(`e2e-queue: ${signal}, stopping everything`);
		aborted = true;
		cleanup().finally(() => process.exit(128 + (os.constants.signals[signal] || 1)));
	});
}

// ---------------------------------------------------------------------------------------------
// Redis

function redisPing(port) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		let got = '';
		socket.setTimeout(1000, () => socket.destroy());
		socket.on('connect', () => socket.write('PING\r\n'));
		socket.on('data', (d) => {
			got += d;
			if (got.includes('\r\n')) socket.end();
		});
		socket.on('close', () => resolve(got.startsWith('+PONG')));
		socket.on('error', () => resolve(false));
	});
}

async function startRedis(redisBin, dir) {
	const redisDir = path.join(dir, 'redis');
	fs.mkdirSync(redisDir, { recursive: true });
	const port = await local.pickPort(0);
	const child = startLogged('Redis', redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], {
		logFile: path.join(redisDir, 'redis.log'),
	});
	for (let i = 0; i < 100; i++) {
		if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}; see ${child.logFile}`);
		if (await redisPing(port)) return { port };
		await sleep(100);
	}
	throw new Error('redis-server did not answer PING within 10s');
}

// ---------------------------------------------------------------------------------------------
// n8n

async function waitFor(what, fn, { timeoutMs = 120000, everyMs = 500, child } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		for (const c of [child].flat().filter(Boolean)) {
			if (c.exitCode !== null) throw new Error(`${c.name} exited with ${c.exitCode} while waiting for ${what}; log: ${c.logFile}\n${tail(c.logFile)}`);
		}
		try {
			if (await fn()) return;
		} catch {
			// not yet
		}
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(everyMs);
	}
}

function tail(file, lines = 25) {
	try {
		return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
	} catch {
		return '';
	}
}

// ---------------------------------------------------------------------------------------------
// The checks

const results = [];
const measured = {};
/** The n8n under test: { version, node }. */
let tested;

/** `part`: 'cases' ((a)–(g)), 'crash' ((h)) or 'always', for E2E_ONLY. */
async function check(name, fn, part = 'cases') {
	if (aborted || (ONLY && part !== 'always' && !ONLY.has(part))) return;
	const t0 = Date.now();
	// what a case wants shown under its result line
	const details = [];
	let ok = false;
	try {
		const note = await fn((line) => details.push(line));
		results.push({ name, ok: true });
		log(`  ok    ${name} (${local.elapsed(t0)})${note ? ` — ${note}` : ''}`);
		ok = true;
	} catch (err) {
		results.push({ name, ok: false });
		log(`  FAIL  ${name} (${local.elapsed(t0)}): ${err.message}`);
		if (err instanceof assert.AssertionError && err.operator === 'match') details.push(`actual: ${JSON.stringify(err.actual)}`);
	}
	for (const line of details) log(`        ${line}`);
	return ok;
}

/** How many times the sandbox applied a fire for each of `ids` (deals, payment_received). */
function fireCounts(sb, ids) {
	const counts = new Map(ids.map((id) => [String(id), 0]));
	for (const f of sb.fires) {
		const id = String(f.entityId);
		if (f.entityType === 'deal' && f.triggerId === 'payment_received' && counts.has(id)) counts.set(id, counts.get(id) + 1);
	}
	return counts;
}

function assertFiredTimes(sb, ids, times, what) {
	const counts = fireCounts(sb, ids);
	const wrong = [...counts].filter(([, n]) => n !== times);
	assert.equal(wrong.length, 0, `${what}: expected each fired ${times}×, got ${wrong.slice(0, 8).map(([id, n]) => `${id}:${n}×`).join(', ')}${wrong.length > 8 ? ` … (${wrong.length} in all)` : ''}`);
}

const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

// (h): test/e2e/queue/fire-once-crash.json with its own sandbox key (and credential), so that its
// pace (300 requests per minute, 5 at a time) is its own.
const CRASH = {
	workflowId: 'vibeQueueCrash01',
	hookPath: 'e2e-queue-crash-once',
	key: 'vibe_api_sandbox_crash',
	keyId: 'crash',
	credential: (sb) => ({
		id: 'vibeSandboxCrash1',
		name: 'Vibecode sandbox (crash key)',
		type: 'bitrix24VibecodeApi',
		data: { apiKey: 'vibe_api_sandbox_crash', sessionToken: '', baseUrl: sb.url },
	}),
	deals: range(800001, 200),
	killAt: 50,
	// twice Max Concurrent Requests: what can be claimed and unanswered at the kill
	maxUnanswered: 10,
};

async function main() {
	await local.buildPackage();
	tested = await local.ensureN8n();
	const { pgBin, redis: redisBin } = await ensureServices();

	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vibecode-e2e-queue-'));
	stops.push({
		name: 'scratch folder',
		stop: () => {
			if (KEEP) log(`e2e-queue: kept ${dir}`);
			else fs.rmSync(dir, { recursive: true, force: true });
		},
	});
	log(`e2e-queue: scratch folder ${dir}`);

	const tInfra = Date.now();
	const pg = await startPostgres(pgBin, dir, { stops });
	const redis = await startRedis(redisBin, dir);
	const sb = await startSandbox({ port: 0, rateLimit: { limit: 100000, windowMs: 60000 } });
	stops.push({ name: 'sandbox', stop: () => sb.close() });
	log(`e2e-queue: PostgreSQL :${pg.port}, Redis :${redis.port}, sandbox ${sb.url}`);

	const encryptionKey = crypto.randomBytes(24).toString('hex');
	const mainPort = await local.pickPort(0);
	const shared = {
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: '127.0.0.1',
		QUEUE_BULL_REDIS_PORT: String(redis.port),
		// n8n 1.x lets Bull run a stalled job again: an execution could run twice (2.x never does)
		QUEUE_WORKER_MAX_STALLED_COUNT: '0',
		...postgresEnv(pg),
		N8N_ENCRYPTION_KEY: encryptionKey,
		// the workflows read E2E_WORKER through $env
		N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
		N8N_LOG_LEVEL: 'info',
		N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '10',
		N8N_PORT: String(mainPort),
	};
	const processes = [{ name: 'main', args: ['start'] }, { name: 'w1' }, { name: 'w2' }];
	for (const p of processes) {
		p.folder = path.join(dir, `n8n-${p.name}`);
		fs.mkdirSync(p.folder, { recursive: true });
		local.installPackage(p.folder);
		p.logFile = path.join(dir, `n8n-${p.name}.log`);
		// each process has its own task broker (the Code nodes' runner talks to it): its own port
		const extra = { ...shared, E2E_WORKER: p.name, N8N_RUNNERS_BROKER_PORT: String(await local.pickPort(0)) };
		if (p.name !== 'main') {
			p.args = ['worker', '--concurrency=10'];
			p.healthPort = await local.pickPort(0);
			// a worker binds nothing but this health server (off by default; on here to see it ready)
			Object.assign(extra, { QUEUE_HEALTH_CHECK_ACTIVE: 'true', QUEUE_HEALTH_CHECK_PORT: String(p.healthPort), N8N_PORT: String(await local.pickPort(0)) });
		}
		p.env = local.n8nEnv(p.folder, extra);
	}
	const [mainProc, ...workers] = processes;

	// Before main starts: credentials, workflows, activation (in the shared database).
	await step('Importing credentials and workflows, activating them', async () => {
		await local.importCredentials(sb, mainProc.env, [CRASH.credential(sb)]);
		await local.n8n(['import:workflow', '--separate', `--input=${WORKFLOW_DIR}`], { env: mainProc.env });
		const ids = local.exampleFiles(WORKFLOW_DIR).map((file) => JSON.parse(fs.readFileSync(file, 'utf8')).id);
		await local.activateWorkflows(ids, mainProc.env);
	});

	await step('Starting n8n main and two workers', async () => {
		for (const p of processes) {
			p.child = startLogged(`n8n ${p.name}`, local.N8N_NODE, [local.N8N_BIN, ...p.args], { env: p.env, cwd: local.N8N_DIR, logFile: p.logFile });
			stops[stops.length - 1].group = 'n8n';
		}
		const all = processes.map((p) => p.child);
		const mainUrl = `http://127.0.0.1:${mainPort}`;
		await waitFor('n8n main REST', async () => (await fetch(`${mainUrl}/rest/settings`)).ok, { child: all, timeoutMs: 180000 });
		for (const w of workers) {
			await waitFor(`worker ${w.name} readiness`, async () => (await fetch(`http://127.0.0.1:${w.healthPort}/healthz/readiness`)).ok, { child: all, timeoutMs: 180000 });
		}
		// /healthz/readiness and REST answer before the production webhooks are registered: a
		// CORS preflight answers 204 once the path is registered (an error before: 500 seen here for a
		// path nothing registered), and runs nothing.
		const preflight = (hookPath) =>
			fetch(`${mainUrl}/webhook/${hookPath}`, {
				method: 'OPTIONS',
				headers: { origin: 'http://localhost', 'access-control-request-method': 'POST' },
			}).then((res) => res.status);
		let probes = 0;
		for (const file of fs.readdirSync(WORKFLOW_DIR).filter((f) => f.endsWith('.json'))) {
			const wf = JSON.parse(fs.readFileSync(path.join(WORKFLOW_DIR, file), 'utf8'));
			const hookPath = wf.nodes.find((n) => n.type === 'n8n-nodes-base.webhook').parameters.path;
			await waitFor(`webhook ${hookPath}`, async () => {
				probes++;
				return (await preflight(hookPath)) === 204;
			}, { child: all, timeoutMs: 60000 });
		}
		// the probe tells: a path nothing registered is refused
		const unknown = await preflight('e2e-queue-no-such-webhook');
		if (unknown === 204) throw new Error('a CORS preflight of an unregistered webhook answered 204: the readiness probe tells nothing');
		log(`  the production webhooks answer (${probes} preflight probes; an unregistered path: ${unknown})`);
	});
	measured.startupSeconds = Math.round((Date.now() - tInfra) / 1000);

	const mainUrl = `http://127.0.0.1:${mainPort}`;
	const rest = new local.Rest(mainUrl);
	await rest.login();

	/** One production webhook call; the answer of a `lastNode` webhook is the Report node's first item. */
	async function hook(hookPath, body) {
		const res = await fetch(`${mainUrl}/webhook/${hookPath}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify(body),
			signal: AbortSignal.timeout(180000),
		});
		const text = await res.text();
		let json;
		try {
			json = JSON.parse(text);
		} catch {
			// not JSON
		}
		return { status: res.status, json, text };
	}
	const okAnswer = (answer, what) => {
		assert.equal(answer.status, 200, `${what}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
		assert.ok(['w1', 'w2'].includes(answer.json?.worker), `${what}: ran on a worker (worker: ${JSON.stringify(answer.json?.worker)})`);
		return answer.json;
	};
	const workersOf = (answers) => [...new Set(answers.map((a) => a.json?.worker))].sort();
	const unrecognized = () => workers.filter((w) => /Unrecognized node type/i.test(fs.readFileSync(w.logFile, 'utf8'))).map((w) => w.name);

	const flatted = require(path.join(local.N8N_DIR, 'node_modules', 'flatted'));
	log('Checks:');

	// (a) the package loads on both workers
	await check('a. the package runs on both workers', async () => {
		sb.reset();
		const seen = new Set();
		let next = 100001;
		const ids = [];
		for (let round = 0; round < 10 && seen.size < 2; round++) {
			const answers = await Promise.all(
				[next++, next++].map((id) => {
					ids.push(id);
					return hook('e2e-queue-deals', { deals: [id] });
				}),
			);
			for (const a of answers) {
				const json = okAnswer(a, 'webhook');
				assert.deepEqual(json.results.map((r) => r.success), [true], `fired: ${JSON.stringify(json.results)}`);
				seen.add(json.worker);
			}
		}
		assert.deepEqual([...seen].sort(), ['w1', 'w2'], 'both workers ran an execution');
		assertFiredTimes(sb, ids, 1, 'each deal');
		assert.deepEqual(unrecognized(), [], 'no "Unrecognized node type" in the worker logs');
		return `${ids.length} calls`;
	});

	// (b) 30 concurrent webhook calls, one deal each
	await check('b. 30 concurrent webhook executions over both workers fire each deal once', async () => {
		sb.reset();
		const ids = range(200001, 30);
		const answers = await Promise.all(ids.map((id) => hook('e2e-queue-deals', { deals: [id] })));
		answers.forEach((a, i) => assert.deepEqual(okAnswer(a, `deal ${ids[i]}`).results.map((r) => r.success), [true]));
		assertFiredTimes(sb, ids, 1, 'each deal');
		assert.equal(sb.fires.length, 30, 'nothing else fired');
		const used = workersOf(answers);
		assert.deepEqual(used, ['w1', 'w2'], 'both workers used');
		const perWorker = used.map((w) => `${w}: ${answers.filter((a) => a.json.worker === w).length}`).join(', ');
		return perWorker;
	});

	// (c) a 60-deal bulk run on each worker at once, one API key
	await check('c. a 60-deal bulk run on each worker at once fires every deal once', async () => {
		let attempt = 0;
		for (;;) {
			attempt++;
			sb.reset();
			const batches = [range(300000 + attempt * 1000, 60), range(300500 + attempt * 1000, 60)];
			const answers = await Promise.all(batches.map((deals) => hook('e2e-queue-deals', { deals })));
			answers.forEach((a, i) => {
				const json = okAnswer(a, `bulk ${i + 1}`);
				assert.equal(json.results.length, 60, 'sixty results');
				assert.ok(json.results.every((r) => r.success === true), `all fired: ${JSON.stringify(json.results.filter((r) => r.success !== true).slice(0, 3))}`);
			});
			assertFiredTimes(sb, batches.flat(), 1, 'each deal');
			assert.equal(sb.fires.length, 120, 'nothing else fired');
			if (workersOf(answers).length === 2) return `attempt ${attempt}: w1 and w2 at once`;
			assert.ok(attempt < 6, 'Bull gave both runs to one worker six times in a row');
		}
	});

	// (d) Fire Once across workers, key from the payment ID
	await check('d1. Fire Once: one payment delivered twice fires once, the second answer skipped', async () => {
		sb.reset();
		const body = { paymentId: `pay-d1-${crypto.randomUUID()}`, dealId: 400001 };
		const first = okAnswer(await hook('e2e-queue-once', body), 'first delivery');
		await sleep(300);
		const second = okAnswer(await hook('e2e-queue-once', body), 'second delivery');
		assert.equal(first.results[0]?.success, true, `first delivery fired: ${JSON.stringify(first.results)}`);
		assert.equal(second.results[0]?.skipped, true, `second delivery skipped: ${JSON.stringify(second.results)}`);
		assert.equal(second.results[0]?.success, false, 'a skipped item says success: false');
		assert.equal(second.results[0]?.fireOnceKey, body.paymentId, 'and names its key');
		assertFiredTimes(sb, [400001], 1, 'the deal');
		return `workers ${first.worker} then ${second.worker}`;
	});

	await check('d2. Fire Once: 40 payments at once, then all 40 again at once → 40 fires', async (detail) => {
		sb.reset();
		const bodies = range(410001, 40).map((dealId) => ({ paymentId: `pay-d2-${dealId}-${crypto.randomUUID()}`, dealId }));
		const wave1 = await Promise.all(bodies.map((b) => hook('e2e-queue-once', b)));
		const afterFirst = sb.fires.length;
		const wave2 = await Promise.all(bodies.map((b) => hook('e2e-queue-once', b)));
		const fires = sb.fires.length;
		const failedCalls = [...wave1, ...wave2].filter((a) => a.status !== 200).length;
		const counts = fireCounts(sb, bodies.map((b) => b.dealId));
		const twice = [...counts.values()].filter((n) => n > 1).length;
		const never = [...counts.values()].filter((n) => n === 0).length;
		measured.d2 = { fires, afterFirstWave: afterFirst, firedTwice: twice, neverFired: never, failedCalls, wave1Workers: workersOf(wave1), wave2Workers: workersOf(wave2) };
		detail(`measured: ${JSON.stringify(measured.d2)}`);
		wave1.forEach((a, i) => okAnswer(a, `first wave, payment ${i + 1}`));
		wave2.forEach((a, i) => okAnswer(a, `second wave, payment ${i + 1}`));
		assert.deepEqual(workersOf(wave1), ['w1', 'w2'], 'the first wave ran on both workers');
		assert.equal(fires, 40, `exactly 40 fires (got ${fires}: ${afterFirst} in the first wave)`);
		assertFiredTimes(sb, bodies.map((b) => b.dealId), 1, 'each payment\'s deal');
		assert.ok(wave2.every((a) => a.json.results[0]?.skipped === true), 'every second delivery answered skipped');
		return `${fires} fires`;
	});

	// (e) the same key in two simultaneous calls, on different workers: each run's mark beside
	// its key lets exactly one of them fire (README, "How safe it is"); measured and checked
	await check('e. one payment in two simultaneous calls, a fresh payment each round: it fires once', async (detail) => {
		sb.reset();
		const m = { rounds: Number(process.env.E2E_QUEUE_ROUNDS) || 30, differentWorkers: 0, sameWorker: 0, firedTwiceDifferentWorkers: 0, firedTwiceSameWorker: 0, neverFired: 0, failedCalls: 0 };
		for (let round = 0; round < m.rounds; round++) {
			const body = { paymentId: `pay-e-${round}-${crypto.randomUUID()}`, dealId: 500001 + round };
			const pair = await Promise.all([hook('e2e-queue-once', body), hook('e2e-queue-once', body)]);
			m.failedCalls += pair.filter((a) => a.status !== 200).length;
			const [w1, w2] = pair.map((a) => a.json?.worker);
			const different = w1 && w2 && w1 !== w2;
			const n = fireCounts(sb, [body.dealId]).get(String(body.dealId));
			if (different) m.differentWorkers++;
			else m.sameWorker++;
			if (n > 1) m[different ? 'firedTwiceDifferentWorkers' : 'firedTwiceSameWorker']++;
			if (n === 0) m.neverFired++;
		}
		measured.e = m;
		detail(`measured: ${JSON.stringify(m)}`);
		assert.equal(m.failedCalls, 0, 'every call answered');
		assert.equal(m.firedTwiceDifferentWorkers + m.firedTwiceSameWorker, 0, 'no payment fired twice');
		assert.equal(m.neverFired, 0, 'every payment fired');
		return `fired twice: ${m.firedTwiceDifferentWorkers} of ${m.differentWorkers} rounds on different workers, ${m.firedTwiceSameWorker} of ${m.sameWorker} on one worker`;
	});

	// (f) the same webhook body delivered twice, the default key (entity type + ID + trigger code)
	await check('f. Fire Once (default key): the same webhook delivered twice fires once', async () => {
		sb.reset();
		const body = { deals: [600001] };
		const first = okAnswer(await hook('e2e-queue-once-default', body), 'first delivery');
		const second = okAnswer(await hook('e2e-queue-once-default', body), 'second delivery');
		assert.equal(first.results[0]?.success, true, `first delivery fired: ${JSON.stringify(first.results)}`);
		assert.equal(second.results[0]?.skipped, true, `second delivery skipped: ${JSON.stringify(second.results)}`);
		assertFiredTimes(sb, [600001], 1, 'the deal');
		return `workers ${first.worker} then ${second.worker}`;
	});

	// (g) n8n's Retry of a failed execution (REST), the 4th fire ambiguous (applied, answer lost)
	async function failThenRetry(workflowId, hookPath, deals) {
		sb.reset();
		sb.injectFault({ kind: 'json502', apply: true, times: 1, match: { path: '/v1/triggers/fire', entityId: String(deals[3]) } });
		const answer = await hook(hookPath, { deals });
		assert.notEqual(answer.status, 200, `the execution fails (HTTP ${answer.status} ${answer.text.slice(0, 200)})`);
		const firstRun = fireCounts(sb, deals);
		const list = await rest.call('GET', `/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId }))}&limit=10`);
		const failed = list.results.find((e) => e.status === 'error');
		assert.ok(failed, `a failed execution of ${workflowId} (found: ${JSON.stringify(list.results.map((e) => [e.id, e.status]))})`);
		const failedFull = await rest.call('GET', `/executions/${failed.id}`);
		const failedData = flatted.parse(failedFull.data);
		const error = failedData.resultData.error ?? {};
		const retried = await rest.call('POST', `/executions/${failed.id}/retry`, { loadWorkflow: false });
		let done;
		await waitFor(`retried execution ${retried.id}`, async () => {
			done = await rest.call('GET', `/executions/${retried.id}`);
			return done.finished || ['success', 'error', 'crashed', 'canceled'].includes(done.status);
		}, { timeoutMs: 60000 });
		const retryData = flatted.parse(done.data);
		return { firstRun, error, failedId: failed.id, retriedId: retried.id, retryStatus: done.status, retryData, total: fireCounts(sb, deals) };
	}
	const countsText = (counts) => [...counts.values()].join(',');

	await check('g1. Retry (Fire Once on): the retry fires only what was never sent', async (detail) => {
		const deals = range(700001, 6);
		const r = await failThenRetry('vibeQueueRetry01', 'e2e-queue-retry-once', deals);
		detail(`fires after the failed run: ${countsText(r.firstRun)}; after the retry: ${countsText(r.total)} (execution ${r.failedId} → retry ${r.retriedId}: ${r.retryStatus})`);
		assert.deepEqual([...r.firstRun.values()], [1, 1, 1, 1, 0, 0], 'the failed run: deals 1–4 applied (the 4th ambiguous), 5–6 never sent');
		assert.match(String(r.error.message), /did not answer/i, 'the stop error is the ambiguous fire');
		assert.equal(r.retryStatus, 'success', 'the retry succeeds');
		assert.deepEqual([...r.total.values()], [1, 1, 1, 1, 1, 1], 'in all: every deal fired exactly once');
		const out = r.retryData.resultData.runData['Fire Trigger']?.[0]?.data?.main?.[0]?.map((i) => i.json) ?? [];
		assert.deepEqual(out.map((j) => (j.skipped ? 'skipped' : j.success)), ['skipped', 'skipped', 'skipped', 'skipped', true, true], 'the retry skipped 1–4 and fired 5–6');
	});

	await check('g2. Retry (Fire Once off): the stop error tells so; the retry fires 1–4 again', async (detail) => {
		const deals = range(710001, 6);
		const r = await failThenRetry('vibeQueueRetry00', 'e2e-queue-retry-plain', deals);
		measured.g2 = { afterFailedRun: countsText(r.firstRun), afterRetry: countsText(r.total), retryStatus: r.retryStatus };
		detail(`fires after the failed run: ${countsText(r.firstRun)}; after the retry: ${countsText(r.total)} (execution ${r.failedId} → retry ${r.retriedId}: ${r.retryStatus})`);
		detail(`stop error: ${r.error.message} — ${r.error.description}`);
		assert.deepEqual([...r.firstRun.values()], [1, 1, 1, 1, 0, 0], 'the failed run: deals 1–4 applied (the 4th ambiguous), 5–6 never sent');
		assert.match(String(r.error.description), /Fire Once Across Executions/, 'the stop error points to Fire Once Across Executions');
		assert.equal(r.retryStatus, 'success', 'the retry succeeds');
		assert.deepEqual([...r.total.values()], [2, 2, 2, 2, 1, 1], 'the documented behaviour: the retry fired 1–4 again');
		const out = r.retryData.resultData.runData['Fire Trigger']?.[0]?.data?.main?.[0]?.map((i) => i.json) ?? [];
		assert.deepEqual(out.map((j) => j.success), [true, true, true, true, true, true], 'the retry answered six fires');
	});

	// (h) a worker killed (SIGKILL) in the middle of a 200-deal fire with Fire Once on (issue 22
	// point 5), then started again. The restarted worker marks the execution `crashed` (from its
	// own event log); with QUEUE_WORKER_MAX_STALLED_COUNT=0 Bull never runs the job again (without
	// the restart it fails the stalled job: `error`, and n8n's Retry of that runs nothing). A person
	// delivers the event again: the second execution (on either worker) must answer for every deal.
	const h = {};
	const ranOn = (id) => workers.filter((w) => new RegExp(`Worker started execution ${id} \\(`).test(fs.readFileSync(w.logFile, 'utf8')));
	const crashExecutions = async () =>
		(await rest.call('GET', `/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId: CRASH.workflowId }))}&limit=20`)).results;
	const crashFires = () => sb.fires.filter((f) => f.apiKeyId === CRASH.keyId);
	const finished = (e) => ['success', 'error', 'crashed', 'canceled'].includes(e?.status);
	const crashOk = await check('h. a worker killed mid-run (Fire Once on, 200 deals) and restarted; the same webhook delivered again', async (detail) => {
		sb.addKey(CRASH.key, { id: CRASH.keyId, limit: 100000 });
		const ids = CRASH.deals;
		const t0 = Date.now();
		const first = await hook(CRASH.hookPath, { deals: ids });
		assert.equal(first.status, 200, `the first delivery: HTTP ${first.status} ${first.text.slice(0, 200)}`);
		// the execution, and the worker that runs it (its log names the execution)
		let crashed;
		let victim;
		await waitFor('the first execution on a worker', async () => {
			crashed ??= (await crashExecutions())[0];
			[victim] = crashed ? ranOn(crashed.id) : [];
			return victim;
		}, { timeoutMs: 60000, everyMs: 100 });
		await waitFor(`${CRASH.killAt} fires`, async () => crashFires().length >= CRASH.killAt, { timeoutMs: 90000, everyMs: 20 });
		const firstFireAt = Math.min(...crashFires().map((f) => f.at));
		const exited = new Promise((resolve) => victim.child.once('exit', resolve));
		victim.child.kill('SIGKILL');
		await exited;
		h.killAfterMs = Date.now() - t0;
		const firingMs = Date.now() - firstFireAt;
		await sleep(500);
		const atKill = crashFires().length;
		h.crash = crashChecks.fireCounts(crashFires(), ids, CRASH.keyId);
		detail(`killed ${victim.name} (execution ${crashed.id}) ${(h.killAfterMs / 1000).toFixed(1)}s after the delivery, ${(firingMs / 1000).toFixed(1)}s after the first fire: ${atKill} fires applied`);
		// how the killed execution ends, watched while the rest goes on
		const tKill = Date.now();
		const crashedEnd = (async () => {
			let e;
			await waitFor(`execution ${crashed.id} to end`, async () => finished((e = await rest.call('GET', `/executions/${crashed.id}`))), { timeoutMs: 120000, everyMs: 1000 }).catch(() => {});
			return { status: e?.status, afterMs: Date.now() - tKill };
		})();

		const tRestart = Date.now();
		victim.child = startLogged(`n8n ${victim.name}`, local.N8N_NODE, [local.N8N_BIN, ...victim.args], { env: victim.env, cwd: local.N8N_DIR, logFile: victim.logFile });
		stops[stops.length - 1].group = 'n8n';
		await waitFor(`worker ${victim.name} readiness`, async () => (await fetch(`http://127.0.0.1:${victim.healthPort}/healthz/readiness`)).ok, { child: victim.child, timeoutMs: 180000 });
		detail(`${victim.name} restarted, ready in ${local.elapsed(tRestart)}`);

		// the person delivers the same event again
		const before = new Set((await crashExecutions()).map((e) => e.id));
		const tSecond = Date.now();
		const again = await hook(CRASH.hookPath, { deals: ids });
		assert.equal(again.status, 200, `the second delivery: HTTP ${again.status} ${again.text.slice(0, 200)}`);
		let second;
		await waitFor('the second execution to end', async () => finished((second = (await crashExecutions()).find((e) => !before.has(e.id)))), { timeoutMs: 180000, everyMs: 500 });
		const full = await rest.call('GET', `/executions/${second.id}`);
		h.secondMs = Date.now() - tSecond;
		h.second = crashChecks.fireCounts(crashFires().slice(atKill), ids, CRASH.keyId);
		h.answers = crashChecks.answersOf(crashChecks.nodeOutputs(flatted.parse(full.data), 'Fire Trigger'));
		h.analysis = crashChecks.analyse({ ids, crash: h.crash, second: h.second, answers: h.answers });
		const end = await crashedEnd;
		const m = h.analysis.measured;
		measured.h = { ...m, killAfterSeconds: Math.round(h.killAfterMs / 1000), secondSeconds: Math.round(h.secondMs / 1000), secondPace: crashChecks.pace(crashFires().slice(atKill)) };
		detail(`execution ${crashed.id} ended ${end.status ?? 'not within 120s'} ${(end.afterMs / 1000).toFixed(0)}s after the kill; redelivery: execution ${second.id} on ${ranOn(second.id).map((w) => w.name).join(', ') || '?'}: ${full.status} in ${(h.secondMs / 1000).toFixed(1)}s, ${crashChecks.pace(crashFires().slice(atKill))}`);
		detail(`measured: fired before the kill ${m.firedBeforeKill} (in flight, reported unanswered: ${m.inFlightAtKill}); unanswered ${m.unanswered}; fired by the redelivery ${m.firedBySecond}; its answers: ${m.answers}`);
		assert.equal(full.status, 'success', 'the second execution succeeds');
		// the restarted worker finds the execution unfinished in its own event log and marks it
		// crashed at once; without a restart Bull would fail the stalled job (error)
		assert.ok(['crashed', 'error'].includes(end.status), `the killed execution ends "crashed" or "error", not run again: ${end.status}`);
	}, 'crash');
	if (crashOk) {
		for (const [label, fn] of crashChecks.crashAssertions(h.analysis, { crash: h.crash, secondFires: h.second, maxUnanswered: CRASH.maxUnanswered, second: 'redelivery' })) {
			await check(`h${label}`, fn, 'crash');
		}
	}

	await check('no "Unrecognized node type" in the worker logs after all cases', async () => {
		assert.deepEqual(unrecognized(), []);
	}, 'always');
}

async function run() {
	const started = Date.now();
	let fatal;
	try {
		await main();
	} catch (err) {
		fatal = err;
		log(`e2e-queue: ${err.stack || err}`);
	} finally {
		if (fatal || results.some((r) => !r.ok)) {
			for (const file of logFiles.filter((f) => f.endsWith('.log') && path.basename(f).startsWith('n8n-'))) log(`--- last lines of ${path.basename(file)}:\n${tail(file, 15)}`);
		}
		await cleanup();
	}
	const passed = results.filter((r) => r.ok).length;
	const failed = results.length - passed + (fatal ? 1 : 0);
	log('e2e-queue: measured:');
	if (measured.startupSeconds) log(`  PostgreSQL, Redis, imports, n8n main + 2 workers up: ${measured.startupSeconds}s`);
	if (measured.d2) log(`  (d) 40 payments at once, then again at once, Fire Once on: ${measured.d2.fires} fires (goal 40; ${measured.d2.afterFirstWave} after the first wave, ${measured.d2.failedCalls} failed calls)`);
	if (measured.e) {
		const e = measured.e;
		log(`  (e) one payment in two simultaneous calls, ${e.rounds} rounds: fired twice in ${e.firedTwiceDifferentWorkers} of ${e.differentWorkers} rounds on different workers, ${e.firedTwiceSameWorker} of ${e.sameWorker} on one worker; never fired ${e.neverFired}; ${e.failedCalls} failed calls`);
	}
	if (measured.g2) log(`  (g) Retry with Fire Once off: fires per deal after the failed run ${measured.g2.afterFailedRun}, after the retry ${measured.g2.afterRetry}`);
	if (measured.h) {
		const m = measured.h;
		log(`  (h) a worker killed after ${m.killAfterSeconds}s, 200 deals, Fire Once on: fired before the kill ${m.firedBeforeKill} (in flight ${m.inFlightAtKill}), reported unanswered ${m.unanswered}, fired by the redelivery ${m.firedBySecond} (${m.secondSeconds}s; ${m.secondPace}, under a cap of 5/s)`);
	}
	log(`e2e-queue: took ${local.elapsed(started)}`);
	log(`e2e-queue: ${tested ? `n8n ${tested.version} on Node.js ${tested.node}: ` : ''}${passed} passed, ${failed} failed`);
	if (failed || passed === 0) process.exitCode = 1;
}

run();
