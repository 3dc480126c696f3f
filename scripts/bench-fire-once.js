#!/usr/bin/env node
'use strict';

// What "Fire Once Across Executions" costs in a real n8n (issue 34 point 1): the n8n the e2e
// installs (scripts/lib/n8n-local.js), `n8n start` with its deduplication store in SQLite, then
// in PostgreSQL (a private cluster, as the queue-mode e2e starts one), the built package
// installed. A production webhook fires one trigger for every deal in its body and answers when
// the last node ends; the option off and on side by side, in one n8n, against the local Vibecode
// sandbox (no rate limit, 50 ms per answer). bench/bench.js section 5 measures the same against
// the in-memory model of n8n's store (test/harness/deduplication.js), without a database.
// Usage: npm run bench:fire-once [-- --db sqlite,postgres] [-- --quick]   (KEEP=1 keeps the
// scratch folders: n8n's log and database; VIBECODE_N8N=1 runs it on the n8n 1.x in tools/n8n;
// BENCH_MAX_CONCURRENT=40 sets the workflows' Max Concurrent Requests, 20 by default). After the
// bulk rows, the bulk again with 200 ms answers (off, and with the keys remembered); then each key
// is limited to 600 a minute and 200 deals fire off and with the keys remembered.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const local = require('./lib/n8n-local');
const { ensureServices, startPostgres, postgresEnv } = require('./lib/postgres');

const { startSandbox } = require(path.join(local.ROOT, 'test', 'sandbox', 'server.js'));

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const DATABASES = argv.includes('--db') ? argv[argv.indexOf('--db') + 1].split(',') : ['sqlite', 'postgres'];
const KEEP = Boolean(process.env.KEEP);

/** Deals in the bulk execution, one-item executions per case, keys remembered before the third case. */
const BULK = QUICK ? 200 : 1_000;
const SINGLES = QUICK ? 5 : 15;
const REMEMBERED = QUICK ? 1_000 : 10_000;
/** The sandbox's answer time, and a slower one nearer a portal's (a guess; the bulk is measured with both). */
const FAST_MS = 50;
const SLOW_MS = 200;
const MAX_CONCURRENT = Number(process.env.BENCH_MAX_CONCURRENT ?? 20);
/** Deals fired at a key of PACED_LIMIT a minute, off and with the keys remembered. */
const PACED = QUICK ? 50 : 200;
const PACED_LIMIT = 600;
/** The remembered keys are fired in executions of this many deals (one webhook call each). */
const FILL_BATCH = 1_000;

const CASES = [
	{ label: 'off', fireOnce: false, remembered: 0 },
	{ label: 'on, empty history', fireOnce: true, remembered: 0 },
	{ label: `on, ${REMEMBERED.toLocaleString('en')} keys remembered`, fireOnce: true, remembered: REMEMBERED },
].map((c, i) => ({
	...c,
	id: `vibeBenchOnce0${i}`,
	hookPath: `bench-fire-once-${i}`,
	// each case its own key and credential, so that its fires are told apart; deals of its own
	key: `vibe_api_bench_once_${i}`,
	keyId: `bench-once-${i}`,
	credential: { id: `vibeBenchOnceKy${i}`, name: `Vibecode sandbox (bench key ${i})` },
	firstDeal: 1 + i * 100_000,
}));
// Loads the node, its credential and n8n's store code paths before anything is timed.
const WARM_UP = { label: 'warm-up', fireOnce: true, id: 'vibeBenchOnceWu', hookPath: 'bench-fire-once-warm-up', key: 'vibe_api_bench_once_wu', keyId: 'bench-once-wu', credential: { id: 'vibeBenchOnceKyW', name: 'Vibecode sandbox (bench warm-up key)' }, firstDeal: 900_001 };

const log = (...args) => console.log(...args);
const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
const median = (values) => {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Webhook → one item per deal in body.deals → Fire Trigger; the webhook answers when Fire Trigger ends. */
function workflowOf(c) {
	const node = (x, { name, type, typeVersion = 2, parameters, ...more }) => ({ id: `${c.id}-${x}`, name, type, typeVersion, position: [x * 220, 0], parameters, ...more });
	const fireOptions = { requestsPerMinute: 1_000_000, maxConcurrent: MAX_CONCURRENT, checkRecords: false, reportStageChange: false, fireOnce: c.fireOnce };
	return {
		id: c.id,
		name: `Bench: Fire Once ${c.label}`,
		active: false,
		nodes: [
			node(0, {
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				parameters: { httpMethod: 'POST', path: c.hookPath, responseMode: 'lastNode', responseData: 'firstEntryJson', options: {} },
				webhookId: crypto.randomUUID(),
			}),
			node(1, {
				name: 'Deals',
				type: 'n8n-nodes-base.code',
				parameters: { jsCode: 'return $input.first().json.body.deals.map((dealId) => ({ json: { dealId } }));' },
			}),
			node(2, {
				name: 'Fire Trigger',
				type: 'n8n-nodes-bitrix24-vibecode.bitrix24Vibecode',
				typeVersion: 1,
				parameters: {
					resource: 'trigger',
					operation: 'fire',
					entityType: 'deal',
					entityId: { __rl: true, mode: 'id', value: '={{ $json.dealId }}' },
					triggerId: { __rl: true, mode: 'code', value: 'payment_received' },
					options: fireOptions,
				},
				credentials: { bitrix24VibecodeApi: c.credential },
			}),
		],
		connections: {
			Webhook: { main: [[{ node: 'Deals', type: 'main', index: 0 }]] },
			Deals: { main: [[{ node: 'Fire Trigger', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
		pinData: {},
	};
}

/** One production webhook call with `deals`; resolves with its milliseconds, start to answer. */
async function call(baseUrl, c, deals) {
	const started = performance.now();
	const res = await fetch(`${baseUrl}/webhook/${c.hookPath}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ deals }),
		signal: AbortSignal.timeout(280_000),
	});
	const text = await res.text();
	const ms = performance.now() - started;
	assert.equal(res.status, 200, `${c.label}: HTTP ${res.status} ${text.slice(0, 300)}`);
	assert.equal(JSON.parse(text).success, true, `${c.label}: the first deal fired (${text.slice(0, 300)})`);
	return ms;
}

/** Every deal of `deals` fired exactly once with the case's key, and nothing else with it. */
function assertFiredOnce(sandbox, c, deals) {
	const counts = new Map(deals.map((id) => [String(id), 0]));
	let other = 0;
	for (const f of sandbox.fires.filter((x) => x.apiKeyId === c.keyId)) {
		if (counts.has(String(f.entityId))) counts.set(String(f.entityId), counts.get(String(f.entityId)) + 1);
		else other++;
	}
	const wrong = [...counts].filter(([, n]) => n !== 1);
	assert.ok(wrong.length === 0 && other === 0, `${c.label}: not each deal fired once: ${wrong.slice(0, 8).map(([id, n]) => `${id}: ${n}×`).join(', ')}${wrong.length > 8 ? ` … (${wrong.length} in all)` : ''}; ${other} other fires`);
	return deals.length;
}

/** One database: its own n8n folder (and PostgreSQL cluster), n8n started, every case measured. */
async function benchOn(db, { pgBin, stops }) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vibecode-bench-once-${db}-`));
	stops.push({ name: 'scratch folder', stop: () => (KEEP ? log(`kept ${dir}`) : fs.rmSync(dir, { recursive: true, force: true })) });
	const userFolder = path.join(dir, 'n8n');
	fs.mkdirSync(userFolder);
	local.installPackage(userFolder);
	let database = `SQLite (n8n's default, pool size ${local.n8nEnv(userFolder).DB_SQLITE_POOL_SIZE})`;
	let dbEnv = {};
	if (db === 'postgres') {
		// PostgreSQL's own durability settings, as a real server runs (the queue e2e turns them off)
		const pg = await startPostgres(pgBin, dir, { stops, durable: true });
		database = `${pg.version.replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ')}, fsync and synchronous commits on`;
		dbEnv = postgresEnv(pg);
	}
	const sandbox = await startSandbox({ rateLimit: false, latencyMs: FAST_MS });
	stops.push({ name: 'sandbox', stop: () => sandbox.close() });
	const all = [WARM_UP, ...CASES];
	for (const c of all) sandbox.addKey(c.key, { id: c.keyId });

	const port = await local.pickPort(0);
	const env = local.n8nEnv(userFolder, { ...dbEnv, N8N_PORT: String(port), N8N_RUNNERS_BROKER_PORT: String(await local.pickPort(0)) });
	const baseUrl = `http://127.0.0.1:${port}`;
	await local.step(`${database}: importing the workflows, starting n8n`, async () => {
		const credentials = all.map((c) => ({ ...c.credential, type: 'bitrix24VibecodeApi', data: { apiKey: c.key, sessionToken: '', baseUrl: sandbox.url } }));
		await local.importCredentials(sandbox, env, credentials);
		const workflows = path.join(dir, 'workflows');
		fs.mkdirSync(workflows);
		for (const c of all) fs.writeFileSync(path.join(workflows, `${c.id}.json`), JSON.stringify(workflowOf(c)));
		await local.n8n(['import:workflow', '--separate', `--input=${workflows}`], { env });
		await local.activateWorkflows(all.map((c) => c.id), env);
		const server = local.startServer(env, path.join(dir, 'n8n.log'));
		stops.push({ name: 'n8n', stop: () => local.stopServer(server) });
		await local.waitForN8n(baseUrl, { child: server });
		for (const c of all) await local.waitForWebhook(baseUrl, c.hookPath, { child: server });
	});

	await call(baseUrl, WARM_UP, range(WARM_UP.firstDeal, 20));
	const deals = new Map(all.map((c) => [c, WARM_UP === c ? range(WARM_UP.firstDeal, 20) : []]));
	const fire = async (c, ids) => {
		deals.get(c).push(...ids);
		return await call(baseUrl, c, ids);
	};

	// The remembered keys: earlier executions of the same node fired them with the option on,
	// so that its row in n8n's processed_data table is as n8n itself left it.
	const fills = [];
	for (const c of CASES.filter((x) => x.remembered)) {
		await local.step(`${database}: ${c.label}: firing ${c.remembered.toLocaleString('en')} deals first, in executions of ${FILL_BATCH.toLocaleString('en')}`, async () => {
			for (let from = 0; from < c.remembered; from += FILL_BATCH) {
				const n = Math.min(FILL_BATCH, c.remembered - from);
				const ms = await fire(c, range(c.firstDeal + 50_000 + from, n));
				fills.push({ n, ms });
			}
		});
	}

	// One-item executions first, so that "empty history" holds for them too: a round calls each
	// case once, so that a busy moment of the machine falls on every case alike.
	const singles = new Map(CASES.map((c) => [c, []]));
	for (let round = 0; round < SINGLES; round++) {
		for (const c of CASES) singles.get(c).push(await fire(c, [c.firstDeal + BULK + round]));
	}
	const rows = [];
	for (const c of CASES) {
		const ms = await fire(c, range(c.firstDeal, BULK));
		rows.push({ label: c.label, bulk: BULK / (ms / 1000), single: median(singles.get(c)), singles: singles.get(c) });
	}
	// The same bulk with slower answers (SLOW_MS, a guess nearer a portal's): the claims' fixed cost (a settle
	// and two store calls) is then small beside a fire, and the bound of twice Max Concurrent
	// claims open covers both.
	sandbox.setLatency(SLOW_MS);
	const slow = [];
	for (const c of [CASES[0], CASES[2]]) {
		const ms = await fire(c, range(c.firstDeal + 70_000, BULK));
		slow.push({ label: c.label, bulk: BULK / (ms / 1000) });
	}
	sandbox.setLatency(FAST_MS);
	// The key's pace with the option on: each key limited to 600 a minute from here on (the node
	// reads the limit from the answers' headers), PACED deals with the option off and with the
	// keys remembered; the floor is PACED ÷ 10 a second.
	sandbox.setRateLimit({ limit: PACED_LIMIT, windowMs: 60_000 });
	const paced = [];
	for (const c of [CASES[0], CASES[2]]) {
		const ms = await fire(c, range(c.firstDeal + 60_000, PACED));
		paced.push({ label: c.label, seconds: ms / 1000, ratio: ms / 1000 / (PACED / (PACED_LIMIT / 60)) });
	}
	sandbox.setRateLimit(false);
	let checked = 0;
	for (const c of all) checked += assertFiredOnce(sandbox, c, deals.get(c));
	const fill = fills.length && { count: fills.length, n: fills.reduce((s, f) => s + f.n, 0), ms: fills.reduce((s, f) => s + f.ms, 0), last: fills[fills.length - 1] };
	return { database, rows, fill, checked, paced, slow };
}

function print(tested, result) {
	const { database, rows, fill, checked, paced, slow } = result;
	const [off] = rows;
	const times = (x) => `${x.toFixed(2)} ×`;
	log(`\n${database}, n8n ${tested.version} on Node.js ${tested.node} (\`n8n start\`, a production webhook answering when the last node ends); no limit, ${FAST_MS} ms per answer, ${MAX_CONCURRENT} in flight\n`);
	log(`| Fire Once | bulk ${BULK.toLocaleString('en')}: fires per second | of the rate off | one-item webhook execution (median of ${SINGLES}) | times the time off |`);
	log('| --- | ---: | ---: | ---: | ---: |');
	for (const r of rows) log(`| ${r.label} | ${r.bulk.toFixed(0)} | ${times(r.bulk / off.bulk)} | ${r.single.toFixed(0)} ms | ${times(r.single / off.single)} |`);
	if (fill) {
		log(`\nThe ${fill.n.toLocaleString('en')} keys remembered: fired first with the option on in ${fill.count === 1 ? 'one execution' : `${fill.count} executions`} of ${FILL_BATCH.toLocaleString('en')}, ${(fill.n / (fill.ms / 1000)).toFixed(0)} fires per second in all (the last execution: ${(fill.last.n / (fill.last.ms / 1000)).toFixed(0)}).`);
	}
	log(`\nThe same bulk with ${SLOW_MS} ms per answer:\n`);
	log('| Fire Once | fires per second | of the rate off |');
	log('| --- | ---: | ---: |');
	for (const r of slow) log(`| ${r.label} | ${r.bulk.toFixed(0)} | ${times(r.bulk / slow[0].bulk)} |`);
	const floor = PACED / (PACED_LIMIT / 60);
	log(`\nAt a key of ${PACED_LIMIT} a minute (read from the answers), ${PACED} deals in one execution, floor ${floor.toFixed(1)} s:\n`);
	log('| Fire Once | wall time | wall / floor |');
	log('| --- | ---: | ---: |');
	for (const r of paced) log(`| ${r.label} | ${r.seconds.toFixed(1)} s | ${r.ratio.toFixed(2)} |`);
	log(`\nOne-item executions, ms in turn: ${rows.map((r) => `${r.label}: ${r.singles.map((x) => x.toFixed(0)).join(' ')}`).join('; ')}.`);
	log(`Every deal fired exactly once: ${checked.toLocaleString('en')} deals checked against the sandbox's fires.`);
}

/** Stops what `stops` holds, newest first. */
async function cleanup(stops) {
	while (stops.length) {
		const { name, stop } = stops.pop();
		await Promise.resolve()
			.then(stop)
			.catch((err) => log(`  stopping ${name}: ${err.message}`));
	}
}

async function main() {
	const started = Date.now();
	const unknown = DATABASES.filter((db) => !['sqlite', 'postgres'].includes(db));
	if (unknown.length) throw new Error(`--db: unknown database ${unknown.join(', ')} (sqlite, postgres)`);
	await local.buildPackage();
	const tested = await local.ensureN8n();
	let pgBin;
	const skipped = [];
	if (DATABASES.includes('postgres')) {
		try {
			({ pgBin } = await ensureServices({ redis: false }));
		} catch (err) {
			skipped.push(`PostgreSQL: ${err.message}`);
		}
	}
	const stops = [];
	for (const signal of ['SIGINT', 'SIGTERM']) {
		process.on(signal, () => {
			log(`bench-fire-once: ${signal}, stopping everything`);
			cleanup(stops).finally(() => process.exit(130));
		});
	}
	const results = [];
	for (const db of DATABASES.filter((d) => d !== 'postgres' || pgBin)) {
		try {
			results.push(await benchOn(db, { pgBin, stops }));
		} finally {
			await cleanup(stops);
		}
	}
	log(`\nbench-fire-once, ${new Date().toISOString()}${QUICK ? ' (quick)' : ''}, took ${local.elapsed(started)}`);
	for (const result of results) print(tested, result);
	for (const line of skipped) log(`\nNot measured: ${line}`);
}

main().catch((err) => {
	console.error(`bench-fire-once: ${err.stack || err}`);
	process.exitCode = 1;
});
