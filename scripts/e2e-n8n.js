#!/usr/bin/env node
'use strict';

// Headless end-to-end check: the built package installed in a real n8n (pinned in tools/n8n,
// installed in .n8n-app/), each example workflow run with `n8n execute` against the local
// Vibecode sandbox.
// Usage: npm run e2e   (KEEP_N8N_FOLDER=1 keeps the scratch n8n folder for a look afterwards)

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const local = require('./lib/n8n-local');

const { DEFAULT_TRIGGERS } = require(path.join(local.ROOT, 'test', 'sandbox', 'server.js'));

/** Each output of the node's first run, as lists of item json. */
function outputsOf(run, nodeName) {
	const runs = run.data.resultData.runData[nodeName];
	assert.ok(runs, `node "${nodeName}" did not run`);
	return runs[0].data.main.map((items) => (items ?? []).map((item) => item.json));
}

const fired = (sandbox) =>
	sandbox.fires.map(({ entityType, entityId, triggerId, apiKeyId }) => ({ entityType, entityId, triggerId, apiKeyId }));

const deal = (entityId) => ({ entityType: 'deal', entityId, triggerId: 'payment_received' });

// By workflow id. An example without an entry here only has to finish without an error.
// `setup` prepares the sandbox; a check that takes `error` expects the workflow to fail.
const SETUP = {
	vibeE2eRetryStp(sandbox) {
		sandbox.injectFault({ kind: 'json502', apply: true, times: Infinity, match: { path: '/v1/triggers/fire', entityId: '5142' } });
	},
};

const CHECKS = {
	// n8n re-runs the node for all items while the first output item is an error: 3 tries.
	vibeE2eRetryOut(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [5141, 5142].map((id) => ({ success: true, ...deal(id) })), 'Fire Trigger output');
		assert.equal(errors.length, 1, 'the invalid item on the error output');
		assert.deepEqual(fired(sandbox), [5141, 5142].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'each record fired once');
	},
	// A workflow saved with the Trigger field's old mode name ("id"), an application key: the
	// code is checked against the application's triggers, one list request for the run.
	vibeE2eCodeChck(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [{ success: true, ...deal(5141) }], 'the known code fires');
		assert.match(errors[0]?.error?.message ?? '', /^Unknown Trigger "paymnt_received"/, 'the mistyped code fails');
		assert.match(errors[0].error.description, /payment_received/, 'and names the code it could have meant');
		assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'app' }], 'only the known code was fired');
		assert.equal(sandbox.requests.filter((r) => r.path === '/v1/triggers').length, 1, 'one trigger list request');
	},
	vibeE2eRetryStp(run, sandbox, error) {
		const said = error?.message ?? run.printed;
		assert.match(said, /The Bitrix24 portal did not answer/, 'the run stops with the ambiguous fire');
		assert.deepEqual(
			sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => r.body.entityId),
			[5141, 5142],
			'each record sent once, the third never',
		);
	},
	vibeFireDeals001(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [5141, 5142, 5143].map((id) => ({ success: true, ...deal(id) })), 'Fire Trigger output');
		assert.equal(errors.length, 0, 'no error items');
		assert.deepEqual(fired(sandbox), [5141, 5142, 5143].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'fires the sandbox recorded');
	},
	vibeListTrigs01(run, sandbox) {
		const [triggers] = outputsOf(run, 'List Triggers');
		assert.deepEqual(triggers, DEFAULT_TRIGGERS.map((t) => ({ ...t })), 'List Triggers output');
		const [request] = sandbox.requests.filter((r) => r.path === '/v1/triggers');
		assert.ok(request, 'the sandbox saw GET /v1/triggers');
		assert.equal(request.apiKeyId, 'app', 'sent with the OAuth app key');
		assert.equal(request.authScheme, 'Bearer', 'sent with the session token');
		assert.equal(sandbox.fires.length, 0, 'nothing fired');
	},
	vibeErrorOutput1(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [{ success: true, ...deal(5141) }], 'main output of Fire Trigger');
		assert.equal(errors.length, 1, 'one item on the error output');
		assert.equal(errors[0].error.message, 'Invalid Entity ID "abc" in item 1', 'the error names the field, value and item');
		assert.equal(errors[0].error.code, 'INVALID_PARAMETER', 'the error carries its code');
		assert.equal(errors[0].id, 'abc', 'the input item\'s fields come along');
		assert.equal(outputsOf(run, 'Fired')[0].length, 1, 'one item reached "Fired"');
		assert.equal(outputsOf(run, 'Failed')[0].length, 1, 'one item reached "Failed"');
		assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'personal' }], 'fires the sandbox recorded');
	},
};

async function execute(id, env, expectsError) {
	const { stdout, stderr } = await local.n8n(['execute', `--id=${id}`, '--rawOutput'], { env, allowFailure: expectsError });
	// --rawOutput prints the run as pretty JSON; skip any log line n8n may print before it
	const start = stdout.search(/^\{/m);
	// A failed run: n8n prints the error instead of the run data.
	if (start < 0 && expectsError) return { printed: stdout + stderr };
	if (start < 0) throw new Error(`n8n printed no run data:\n${stdout.slice(-2000)}`);
	// Pretty JSON: the top-level object ends at the first "}" at the start of a line; n8n may
	// print the error of a failed run after it.
	const end = stdout.indexOf('\n}', start);
	const run = JSON.parse(stdout.slice(start, end < 0 ? undefined : end + 2));
	const error = run.data.resultData.error;
	if (error && !expectsError) throw new Error(`the workflow failed: ${error.message}`);
	return run;
}

async function main() {
	const started = Date.now();
	await local.buildPackage();
	await local.ensureN8n();

	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'vibecode-e2e-n8n-'));
	const sandbox = await local.startSandbox(0);
	const results = [];
	try {
		local.installPackage(userFolder);
		// own ports, so that this can run beside `npm start`
		const env = local.n8nEnv(userFolder, {
			N8N_PORT: String(await local.pickPort(0)),
			N8N_RUNNERS_BROKER_PORT: String(await local.pickPort(0)),
		});
		console.log(`e2e: n8n folder ${userFolder}, sandbox ${sandbox.url}`);
		// the first n8n command also creates the database, which takes a few seconds
		await local.importCredentials(sandbox, env);
		const workflows = [
			...(await local.importExamples(env)),
			...(await local.importExamples(env, path.join(local.ROOT, 'test', 'e2e'))),
		];

		for (const workflow of workflows) {
			sandbox.reset();
			const t0 = Date.now();
			try {
				SETUP[workflow.id]?.(sandbox);
				const expectsError = (CHECKS[workflow.id]?.length ?? 0) > 2;
				const run = await execute(workflow.id, env, expectsError);
				CHECKS[workflow.id]?.(run, sandbox, run.data?.resultData.error);
				results.push({ workflow, ok: true });
				console.log(`  ok    ${workflow.name} (${local.elapsed(t0)})`);
			} catch (err) {
				results.push({ workflow, ok: false });
				console.log(`  FAIL  ${workflow.name}: ${err.message}`);
				// assert's own message has a diff for deepEqual/equal, not for match
				if (err instanceof assert.AssertionError && err.operator === 'match') console.log(`        actual: ${JSON.stringify(err.actual)}`);
			}
		}
	} finally {
		await sandbox.close();
		const failedAny = results.length === 0 || results.some((r) => !r.ok);
		if (process.env.KEEP_N8N_FOLDER || failedAny) console.log(`e2e: kept ${userFolder}`);
		else fs.rmSync(userFolder, { recursive: true, force: true });
	}

	const passed = results.filter((r) => r.ok).length;
	const failed = results.length - passed;
	console.log(`e2e: took ${local.elapsed(started)}`);
	console.log(`e2e: ${passed} passed, ${failed} failed`);
	if (failed || passed === 0) process.exitCode = 1;
}

main().catch((err) => {
	console.error(`e2e: ${err.stack || err}`);
	console.log('e2e: 0 passed, 1 failed');
	process.exitCode = 1;
});
