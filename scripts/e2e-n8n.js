#!/usr/bin/env node
'use strict';

// Headless end-to-end check: the built package installed in a real n8n (pinned in tools/n8n,
// installed in .n8n-app/), each example workflow run with `n8n execute` against the local
// Vibecode sandbox. The AI Agent workflows' chat model is a scripted fake OpenAI
// (scripts/lib/fake-openai.js) that calls the node as a tool.
// Usage: npm run e2e   (KEEP_N8N_FOLDER=1 keeps the scratch n8n folder for a look afterwards)

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { API_KEY, startFakeOpenAi } = require('./lib/fake-openai');
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

const fireRequests = (sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers/fire');

// The AI Agent workflows (test/e2e/ai-agent-*.json): n8n's AI Agent with this node as its only
// tool, Entity ID filled by the model ($fromAI), and the scripted model, which asks the tool to
// fire deal 5141 and then answers with the tool's result. Agent v3 runs a tool call as a node of
// the workflow (the node's custom operation, the engine's Retry On Fail); Agent 2.2 calls the
// tool inside the agent (the declarative engine, the agent's own retries). Their tool nodes have
// Retry On Fail on (3 tries) where the fire fails: an answered failure must not make n8n call
// the tool again.

/** The scripted chat model, started in main(); SETUP and CHECKS read it as they read the sandbox. */
let model;

const REFUSED = {
	kind: 'error',
	status: 403,
	body: { success: false, error: { code: 'SCOPE_DENIED', message: 'No CRM scope' } },
	times: Infinity,
	match: { path: '/v1/triggers/fire' },
};
// applied, then the answer is lost: the ambiguous write
const LOST_ANSWER = { kind: 'json502', apply: true, times: Infinity, match: { path: '/v1/triggers/fire' } };

/** The model calls the tool for deal 5141; every fire meets `fault`. */
const agentSetup = (fault) => (sandbox) => {
	model.reset({ toolArguments: { entityId: 5141 } });
	if (fault) sandbox.injectFault(fault);
};

/**
 * An AI Agent workflow's one tool call, checked on both sides (the tool node ran once, by the
 * agent version's own path; the model offered the tool, got one result and had the last word);
 * returns the one item the model heard back from the tool.
 */
function toolCallOf(run, agentVersion) {
	const runs = run.data.resultData.runData['Fire Trigger'];
	assert.equal(runs?.length, 1, 'the tool node ran once');
	assert.equal(runs[0].error, undefined, 'the tool node did not fail');
	const [[{ json: call }]] = runs[0].inputOverride.ai_tool;
	assert.equal(call.entityId, 5141, "the tool got the model's entityId");
	if (agentVersion === 3) {
		assert.ok(call.toolCallId, 'v3: the engine ran the tool node, the call as its input item');
	} else {
		const [[{ json: toolOutput }]] = runs[0].data.ai_tool;
		assert.ok(Array.isArray(toolOutput.response), '2.2: the agent called the tool itself (items wrapped in "response")');
	}

	const [ask, ...rest] = model.completions;
	assert.equal(rest.length, 1, 'the model was asked twice: the tool call, then the final answer');
	assert.equal(ask.headers.authorization, `Bearer ${API_KEY}`, 'with the imported OpenAI credential');
	assert.deepEqual(ask.body.tools.map((t) => t.function.name), ['Fire_Trigger'], 'the agent offered the tool');
	assert.deepEqual(Object.keys(ask.body.tools[0].function.parameters.properties), ['entityId'], 'whose argument is the $fromAI one');
	const results = model.toolResults;
	assert.equal(results.length, 1, 'one tool result reached the model');
	const [{ text, json }] = results;
	assert.ok(Array.isArray(json) && json.length === 1, `the tool result is one item: ${text}`);
	const [[{ output }]] = outputsOf(run, 'AI Agent');
	assert.equal(output, `The tool answered: ${text}`, "the agent finished with the model's final answer");
	return json[0];
}

/** (a) The tool fires the deal; the model hears success. */
const agentFires = (agentVersion) => (run, sandbox) => {
	const answer = toolCallOf(run, agentVersion);
	assert.deepEqual(answer, { success: true, ...deal(5141) }, 'the model heard the fire');
	assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'personal' }], 'the record fired once');
};

/** (b), (c) A failed fire: the execution goes on, the model hears what failed; the fire was sent once. */
function answeredFailure(run, sandbox, agentVersion, expected) {
	const { failure, ...answer } = toolCallOf(run, agentVersion);
	assert.deepEqual(answer, { success: false, fired: expected.fired, ...deal(5141) }, 'the model heard whether it fired');
	const { message, code, httpCode } = failure ?? {};
	assert.deepEqual({ message, code, httpCode }, expected.failure, 'and what went wrong');
	assert.equal(fireRequests(sandbox).length, 1, 'the fire was sent once: the answer made nothing retry it');
}

/** (b) The fire is refused (403 SCOPE_DENIED): the model hears that nothing fired. */
const agentRefused = (agentVersion) => (run, sandbox) => {
	answeredFailure(run, sandbox, agentVersion, {
		fired: 'no',
		failure: { message: 'The API key may not use the CRM', code: 'SCOPE_DENIED', httpCode: 403 },
	});
	assert.equal(sandbox.fires.length, 0, 'nothing fired');
};

/** (c) The fire is applied, its answer lost (502): the model hears that it may have fired. */
const agentMaybeFired = (agentVersion) => (run, sandbox) => {
	answeredFailure(run, sandbox, agentVersion, {
		fired: 'maybe',
		failure: { message: 'The Bitrix24 portal did not answer', code: 'BITRIX_UNAVAILABLE', httpCode: 502 },
	});
	assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'personal' }], 'the record was applied once');
};

// By workflow id. An example without an entry here only has to finish without an error.
// `setup` prepares the sandbox (and the scripted model); a check that takes `error` expects the
// workflow to fail.
const SETUP = {
	vibeE2eRetryStp(sandbox) {
		sandbox.injectFault({ kind: 'json502', apply: true, times: Infinity, match: { path: '/v1/triggers/fire', entityId: '5142' } });
	},
	// A deal deleted long ago, as Bitrix24 has it: a fire for it would be accepted and run nothing.
	vibeE2eMissRec1(sandbox) {
		sandbox.removeRecord('deal', 99999);
	},
	vibeE2eAgent3Ok: agentSetup(),
	vibeE2eAgent3No: agentSetup(REFUSED),
	vibeE2eAgent3Mb: agentSetup(LOST_ANSWER),
	vibeE2eAgent2Ok: agentSetup(),
	vibeE2eAgent2No: agentSetup(REFUSED),
	vibeE2eAgent2Mb: agentSetup(LOST_ANSWER),
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
	// The record check (on by default): one search for the four deals, the missing one fails unsent.
	vibeE2eMissRec1(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [5141, 5142, 5143].map((id) => ({ success: true, ...deal(id) })), 'the existing deals fire');
		assert.equal(errors.length, 1, 'the missing deal on the error output');
		assert.equal(errors[0].error.message, 'Deal 99999 does not exist in Bitrix24 (item 2)', 'naming the record and the item');
		assert.equal(errors[0].error.code, 'RECORD_NOT_FOUND', 'with its code');
		assert.deepEqual(fired(sandbox), [5141, 5142, 5143].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'each existing deal fired once');
		assert.deepEqual(fireRequests(sandbox).map((r) => r.body.entityId), [5141, 5142, 5143], '99999 was never sent');
		assert.equal(sandbox.requests.filter((r) => r.path === '/v1/deals/search').length, 1, 'one search for the four deals');
	},
	vibeE2eAgent3Ok: agentFires(3),
	vibeE2eAgent3No: agentRefused(3),
	vibeE2eAgent3Mb: agentMaybeFired(3),
	vibeE2eAgent2Ok: agentFires(2.2),
	vibeE2eAgent2No: agentRefused(2.2),
	vibeE2eAgent2Mb: agentMaybeFired(2.2),
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
	model = await startFakeOpenAi();
	const results = [];
	try {
		local.installPackage(userFolder);
		// own ports, so that this can run beside `npm start`
		const env = local.n8nEnv(userFolder, {
			N8N_PORT: String(await local.pickPort(0)),
			N8N_RUNNERS_BROKER_PORT: String(await local.pickPort(0)),
		});
		console.log(`e2e: n8n folder ${userFolder}, sandbox ${sandbox.url}, scripted model ${model.url}`);
		// the first n8n command also creates the database, which takes a few seconds
		await local.importCredentials(sandbox, env, [model.credential]);
		const workflows = [
			...(await local.importExamples(env)),
			...(await local.importExamples(env, path.join(local.ROOT, 'test', 'e2e'))),
		];

		for (const workflow of workflows) {
			sandbox.reset();
			sandbox.restoreRecords();
			model.reset();
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
		await model.close();
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
