#!/usr/bin/env node
'use strict';

// Headless end-to-end check: the built package installed in a real n8n (the 2.x pinned in
// tools/n8n2, or with --n8n1 the 1.x in tools/n8n; installed in .n8n-app/), each example
// workflow run with `n8n execute` against the local Vibecode sandbox. The AI Agent workflows'
// chat model is a scripted fake OpenAI (scripts/lib/fake-openai.js) that calls the node as a tool.
// Then n8n itself is killed mid-run: `n8n start` serves an active webhook workflow that fires 200
// deals with Fire Once Across Executions on; n8n is killed (SIGKILL, its whole process group) once
// the sandbox has applied about 50 fires, started again on the same folder and database, and the
// crashed execution retried through REST (test/e2e/crash/, issue 22 point 5). Issue 33: the runs'
// hints (task data), custom data (REST) and the node's lines in n8n's log are checked too.
// Usage: npm run e2e, npm run e2e:n8n1   (KEEP_N8N_FOLDER=1 keeps the scratch n8n folder for a
// look afterwards; E2E_ONLY=workflows runs only the `n8n execute` workflows, E2E_ONLY=crash only
// the kill case)

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const crashChecks = require('./lib/crash-checks');
const notices = require('./lib/notice-checks');
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

/**
 * A fired deal's output with the stage report (on by default): in the sandbox "payment_received"
 * moves a deal of the general pipeline from NEW to EXECUTING; deal 5143 is in pipeline C1, where
 * the trigger is not set, so it stays at C1:NEW and says why.
 */
const firedDeal = (entityId) =>
	entityId === 5143
		? { success: true, ...deal(entityId), stageBefore: 'C1:NEW', stageAfter: 'C1:NEW', moved: false }
		: { success: true, ...deal(entityId), stageBefore: 'NEW', stageAfter: 'EXECUTING', moved: true };

/** An output item without its note (checked on its own). */
const withoutNote = ({ note, ...json }) => json;

/** The hints at the top of a node's output pane, as `n8n execute` prints its task data (issue 33). */
const hintsOf = (run, nodeName = 'Fire Trigger') => notices.hintsOf(run.data, nodeName);
const warning = (message) => ({ type: 'warning', location: 'outputPane', message });
const info = (message) => ({ type: 'info', location: 'outputPane', message });
const NOT_MOVED_5143 = info('Deal 5143 was fired and did not move: see its note.');

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
	const [[{ json: toolOutput }]] = runs[0].data.ai_tool;
	if (agentVersion === 3) {
		// (n8n 1.x also shows the call's toolCallId in the input; 2.x shows only the arguments)
		assert.ok(!('response' in toolOutput), 'v3: the engine ran the tool node, its output is the node\'s own item');
	} else {
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
	assert.deepEqual(answer, firedDeal(5141), 'the model heard the fire, and that the deal moved');
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
		assert.deepEqual(success, [5141, 5142].map(firedDeal), 'Fire Trigger output');
		assert.equal(errors.length, 1, 'the invalid item on the error output');
		assert.deepEqual(fired(sandbox), [5141, 5142].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'each record fired once');
		assert.deepEqual(hintsOf(run), [warning('Item 0 failed and was not fired: see its error. It is on the error output.')], 'one warning, whatever the tries');
	},
	// A workflow saved with the Trigger field's old mode name ("id"), an application key: the
	// code is checked against the application's triggers, one list request for the run.
	vibeE2eCodeChck(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success, [firedDeal(5141)], 'the known code fires');
		assert.match(errors[0]?.error?.message ?? '', /^Unknown Trigger "paymnt_received"/, 'the mistyped code fails');
		assert.match(errors[0].error.description, /payment_received/, 'and names the code it could have meant');
		assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'app' }], 'only the known code was fired');
		assert.equal(sandbox.requests.filter((r) => r.path === '/v1/triggers').length, 1, 'one trigger list request');
		assert.deepEqual(hintsOf(run), [warning('Deal 5142 failed and was not fired: see its error. It is on the error output.')], 'the output pane warns of the failed deal');
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
		assert.deepEqual(success.map(withoutNote), [5141, 5142, 5143].map(firedDeal), 'Fire Trigger output, with the stage report');
		assert.match(success[2].note, /did not move/, 'deal 5143 (pipeline C1) says it did not move');
		assert.equal(errors.length, 0, 'no error items');
		assert.deepEqual(fired(sandbox), [5141, 5142, 5143].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'fires the sandbox recorded');
		assert.deepEqual(hintsOf(run), [NOT_MOVED_5143], 'the output pane tells of the deal that did not move, as information');
	},
	// One deal that fires and moves: a clean run, no hint.
	vibeFireOneDeal1(run) {
		const [success = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success.map((j) => [j.success, j.moved]), [[true, true]], 'the deal fired and moved');
		assert.deepEqual(hintsOf(run), [], 'a clean run: no hint');
	},
	// Rehearse (Fire Nothing): every check runs, nothing is fired; each deal says it would fire, with its stage now.
	vibeRehearse001(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Rehearse Fire Trigger');
		assert.deepEqual(
			success,
			[5141, 5142, 5143].map((id) => ({ success: true, rehearsal: true, wouldFire: true, ...deal(id), stageBefore: id === 5143 ? 'C1:NEW' : 'NEW' })),
			'each deal would fire, with its stage now',
		);
		assert.equal(errors.length, 0, 'no error items');
		assert.equal(fireRequests(sandbox).length, 0, 'nothing was sent to /v1/triggers/fire');
		assert.deepEqual(sandbox.requests.map((r) => r.path), ['/v1/deals/search'], 'the record check only');
		assert.deepEqual(hintsOf(run, 'Rehearse Fire Trigger'), [info('Rehearsal, nothing was fired: a real run would fire 3, fail 0 and skip 0.')], 'one hint says what a real run would do');
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
		assert.deepEqual(success, [firedDeal(5141)], 'main output of Fire Trigger');
		assert.equal(errors.length, 1, 'one item on the error output');
		assert.equal(errors[0].error.message, 'Invalid Entity ID "abc" in item 1', 'the error names the field, value and item');
		assert.equal(errors[0].error.code, 'INVALID_PARAMETER', 'the error carries its code');
		assert.equal(errors[0].id, 'abc', 'the input item\'s fields come along');
		assert.equal(outputsOf(run, 'Fired')[0].length, 1, 'one item reached "Fired"');
		assert.equal(outputsOf(run, 'Failed')[0].length, 1, 'one item reached "Failed"');
		assert.deepEqual(fired(sandbox), [{ ...deal(5141), apiKeyId: 'personal' }], 'fires the sandbox recorded');
		assert.deepEqual(hintsOf(run), [warning('Item 1 failed and was not fired: see its error. It is on the error output.')], 'the output pane warns of the failed item');
	},
	// The record check (on by default): one search for the four deals, the missing one fails unsent.
	vibeE2eMissRec1(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success.map(withoutNote), [5141, 5142, 5143].map(firedDeal), 'the existing deals fire');
		assert.equal(errors.length, 1, 'the missing deal on the error output');
		assert.equal(errors[0].error.message, 'Deal 99999 does not exist in Bitrix24 (item 2)', 'naming the record and the item');
		assert.equal(errors[0].error.code, 'RECORD_NOT_FOUND', 'with its code');
		assert.deepEqual(fired(sandbox), [5141, 5142, 5143].map((id) => ({ ...deal(id), apiKeyId: 'personal' })), 'each existing deal fired once');
		assert.deepEqual(fireRequests(sandbox).map((r) => r.body.entityId), [5141, 5142, 5143], '99999 was never sent');
		const searches = sandbox.requests.filter((r) => r.path === '/v1/deals/search');
		assert.deepEqual(searches.map((r) => r.body.filter.id.$in.length), [4, 3], 'one search for the four deals, one after the fires for the three fired');
		assert.deepEqual(hintsOf(run), [warning('Deal 99999 failed and was not fired: see its error. It is on the error output.'), NOT_MOVED_5143], 'a warning for the missing deal, information for the one that did not move');
	},
	// Issue 24: a deal that moved and one that did not, both fired; the stage report tells them apart.
	vibeE2eStageChg(run, sandbox) {
		const [success = [], errors = []] = outputsOf(run, 'Fire Trigger');
		assert.deepEqual(success.map(withoutNote), [firedDeal(5141), firedDeal(5143)], 'stages before and after, and moved');
		assert.equal(success[0].note, undefined, 'the deal that moved has no note');
		assert.match(success[1].note, /^Bitrix24 accepted the fire, but Deal 5143 did not move: it is still at stage "C1:NEW"\. Likely reasons: the trigger is not set on this deal's pipeline or stage/, 'the one that did not says why');
		assert.equal(errors.length, 0, 'no error items');
		assert.deepEqual(sandbox.fires.map((f) => [f.entityId, f.moved]), [[5141, true], [5143, false]], 'the sandbox moved 5141 and not 5143');
		assert.deepEqual(sandbox.requests.map((r) => r.path), ['/v1/deals/search', '/v1/triggers/fire', '/v1/triggers/fire', '/v1/deals/search'], 'one search before, one after');
		assert.deepEqual(hintsOf(run), [NOT_MOVED_5143], 'information, not a warning: the deal did not move');
	},
	vibeE2eAgent3Ok: agentFires(3),
	vibeE2eAgent3No: agentRefused(3),
	vibeE2eAgent3Mb: agentMaybeFired(3),
	vibeE2eAgent2Ok: agentFires(2.2),
	vibeE2eAgent2No: agentRefused(2.2),
	vibeE2eAgent2Mb: agentMaybeFired(2.2),
};

// ---------------------------------------------------------------------------------------------
// n8n killed mid-run (issue 22 point 5): test/e2e/crash/fire-once-crash.json, a production webhook
// (answers at once) → one item per deal → Fire Trigger with Fire Once on (default key), On Error
// "Continue (using error output)", paced at 240 requests per minute (4 fires/s), 5 at a time: the
// retry's some 145 fires take over 36 s whatever the machine, so that it writes a progress line
// in n8n's log (at most one each 30 s, from 30 s on; issue 33).

const CRASH = {
	file: path.join(local.ROOT, 'test', 'e2e', 'crash', 'fire-once-crash.json'),
	// its own key (and credential), so that its pace is its own
	key: 'vibe_api_sandbox_crash',
	keyId: 'crash',
	credential: { id: 'vibeSandboxCrash1', name: 'Vibecode sandbox (crash key)' },
	deals: Array.from({ length: 200 }, (_, i) => i + 1),
	killAt: 50,
	// the Fire Trigger node's "Requests per Minute" in the workflow
	perMinute: 240,
	// twice Max Concurrent Requests: what can be claimed and unanswered at the kill
	maxUnanswered: 10,
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy. */
async function waitFor(what, fn, { timeoutMs = 60000, everyMs = 250 } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const got = await fn();
		if (got) return got;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
		await sleep(everyMs);
	}
}

function crashCredential(sandbox) {
	return { ...CRASH.credential, type: 'bitrix24VibecodeApi', data: { apiKey: CRASH.key, sessionToken: '', baseUrl: sandbox.url } };
}

/**
 * Runs the kill case; `record(name, fn)` reports each check. The harness (start, kill, restart,
 * find the crashed execution, retry it, read its outputs) is one check, each assertion another.
 */
async function crashCase({ env, sandbox, userFolder, record }) {
	const workflow = JSON.parse(fs.readFileSync(CRASH.file, 'utf8'));
	const hookPath = workflow.nodes.find((n) => n.type === 'n8n-nodes-base.webhook').parameters.path;
	const baseUrl = `http://127.0.0.1:${env.N8N_PORT}`;
	const logFile = path.join(userFolder, 'n8n-start.log');
	const flatted = require(path.join(local.N8N_DIR, 'node_modules', 'flatted'));
	const ids = CRASH.deals;
	const fires = () => sandbox.fires.filter((f) => f.apiKeyId === CRASH.keyId);
	// info: the level of n8n's log that an operator reads (and n8n's default), which the node's lines are checked in
	const env2 = { ...env, N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '5', N8N_LOG_LEVEL: 'info' };
	let server;
	const h = {};

	/** The execution's data (flatted in the database), its status and its custom data, as n8n's REST answers them. */
	async function execution(rest, id) {
		const full = await rest.call('GET', `/executions/${id}`);
		const data = typeof full.data === 'string' ? flatted.parse(full.data) : full.data;
		return { id, status: full.status, workflowData: full.workflowData, data, customData: full.customData };
	}
	const listExecutions = async (rest) =>
		(await rest.call('GET', `/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId: workflow.id }))}&limit=20`)).results;
	/** Delivers `deals` to the running n8n's webhook; resolves with the execution it started, once finished. */
	async function deliver(rest, deals) {
		const before = new Set((await listExecutions(rest)).map((e) => e.id));
		const res = await fetch(`${baseUrl}/webhook/${hookPath}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ deals }),
		});
		assert.equal(res.status, 200, `the webhook call: HTTP ${res.status}`);
		const run = await waitFor('the new execution', async () => {
			const e = (await listExecutions(rest)).find((x) => !before.has(x.id));
			return e && ['success', 'error', 'crashed', 'canceled'].includes(e.status) && e;
		}, { timeoutMs: 120000, everyMs: 500 });
		return execution(rest, run.id);
	}

	try {
		const harnessOk = await record('A. n8n killed mid-run (Fire Once on, 200 deals): kill, restart, Retry of the crashed execution', async (detail) => {
			sandbox.reset();
			sandbox.addKey(CRASH.key, { id: CRASH.keyId, limit: 100000 });
			await local.n8n(['import:workflow', `--input=${CRASH.file}`], { env });
			await local.activateWorkflows([workflow.id], env);

			server = local.startServer(env2, logFile);
			await local.waitForN8n(baseUrl, { child: server });
			await local.waitForWebhook(baseUrl, hookPath, { child: server });
			const rest = new local.Rest(baseUrl);
			await rest.login();

			const t0 = Date.now();
			const res = await fetch(`${baseUrl}/webhook/${hookPath}`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ deals: ids }),
			});
			assert.equal(res.status, 200, `the webhook call: HTTP ${res.status} ${await res.text()}`);
			await waitFor(`${CRASH.killAt} fires`, () => fires().length >= CRASH.killAt, { timeoutMs: 90000, everyMs: 20 });
			const firstFireAt = Math.min(...fires().map((f) => f.at));
			await local.killGroup(server);
			h.killAfterMs = Date.now() - t0;
			h.firingMs = Date.now() - firstFireAt;
			// what reached the sandbox before the process died (the sandbox runs in this process)
			await sleep(500);
			const atKill = fires().length;
			h.crash = crashChecks.fireCounts(fires(), ids, CRASH.keyId);
			detail(`killed n8n ${(h.killAfterMs / 1000).toFixed(1)}s after the webhook call, ${(h.firingMs / 1000).toFixed(1)}s after the first fire: ${atKill} fires applied`);

			const tRestart = Date.now();
			server = local.startServer(env2, logFile);
			await local.waitForN8n(baseUrl, { child: server });
			await rest.login({ setup: false });
			const crashed = await waitFor('the crashed execution', async () => (await listExecutions(rest)).find((e) => e.status === 'crashed'), { timeoutMs: 60000, everyMs: 500 });
			h.restartMs = Date.now() - tRestart;

			const tRetry = Date.now();
			const retried = await rest.call('POST', `/executions/${crashed.id}/retry`, { loadWorkflow: false });
			const done = await waitFor(`retried execution ${retried.id}`, async () => {
				const e = await execution(rest, retried.id);
				return ['success', 'error', 'crashed', 'canceled'].includes(e.status) && e;
			}, { timeoutMs: 120000, everyMs: 500 });
			h.retryMs = Date.now() - tRetry;
			const afterCrash = fires().slice(atKill);
			h.second = crashChecks.fireCounts(afterCrash, ids, CRASH.keyId);
			h.outputs = crashChecks.nodeOutputs(done.data, 'Fire Trigger');
			h.answers = crashChecks.answersOf(h.outputs);
			h.analysis = crashChecks.analyse({ ids, crash: h.crash, second: h.second, answers: h.answers });
			h.rest = rest;
			h.retry = done;
			const m = h.analysis.measured;
			detail(`execution ${crashed.id} crashed (found ${(h.restartMs / 1000).toFixed(1)}s after the restart) → retry ${retried.id}: ${done.status} in ${(h.retryMs / 1000).toFixed(1)}s, ${crashChecks.pace(afterCrash)}`);
			detail(`measured: fired before the kill ${m.firedBeforeKill} (in flight, reported unanswered: ${m.inFlightAtKill}); unanswered ${m.unanswered}; fired by the retry ${m.firedBySecond}; the retry's answers: ${m.answers}`);
			assert.equal(done.status, 'success', 'the retried execution succeeds');
		});
		if (!harnessOk) return;
		for (const [label, fn] of crashChecks.crashAssertions(h.analysis, { crash: h.crash, secondFires: h.second, maxUnanswered: CRASH.maxUnanswered, second: 'retry' })) {
			await record(`A${label}`, fn);
		}

		// 5. A person checked the records and runs the same deals again with "Fire Once Keys Left
		// Unanswered" → "Fire (I Checked the Records)": the same node (its keys), the option changed.
		await record('A5. run again with fireOnceUnanswered "fire": the unanswered deals the sandbox never saw fire once, nothing else', async (detail) => {
			const { rest, analysis: a } = h;
			const wf = await rest.call('GET', `/workflows/${workflow.id}`);
			const note = `e2e step 5, ${new Date().toISOString()}`;
			const nodes = wf.nodes.map((n) =>
				n.name === 'Fire Trigger' ? { ...n, notes: note, parameters: { ...n.parameters, options: { ...n.parameters.options, fireOnceUnanswered: 'fire' } } } : n,
			);
			await rest.updateActiveWorkflow(wf, { nodes, connections: wf.connections });
			await local.waitForWebhook(baseUrl, hookPath, { child: server });
			const atStart = fires().length;
			const t0 = Date.now();
			const run = await deliver(rest, ids);
			const { status, data, workflowData } = run;
			const third = crashChecks.fireCounts(fires().slice(atStart), ids, CRASH.keyId);
			h.again = { ...run, fires: third };
			const answers = crashChecks.answersOf(crashChecks.nodeOutputs(data, 'Fire Trigger'));
			const single = (id) => ((answers.get(id) ?? []).length === 1 ? answers.get(id)[0] : `${(answers.get(id) ?? []).length} answers`);
			const neverSeen = a.unanswered.filter((id) => !a.firedInCrash.includes(id));
			const skippedInRetry = a.all.filter((id) => a.single(id) === 'skipped');
			const total = (id) => h.crash.get(id) + h.second.get(id) + third.get(id);
			detail(`execution ${run.id}: ${status} in ${local.elapsed(t0)}; fired ${[...third.values()].reduce((x, y) => x + y, 0)}: ${crashChecks.tally(a.all.map(single))}`);
			detail(`unanswered in the retry ${a.unanswered.length}: the sandbox never saw ${neverSeen.length}, had applied ${a.inFlight.length} (these fire again: the person's choice)`);
			const ran = workflowData?.nodes?.find((n) => n.name === 'Fire Trigger');
			assert.equal(ran?.notes, note, 'the execution ran the workflow as changed');
			// n8n drops an option the node does not declare when the workflow is saved
			assert.equal(ran.parameters.options?.fireOnceUnanswered, 'fire', `the saved node kept the option (options: ${JSON.stringify(ran.parameters.options)})`);
			assert.equal(status, 'success', 'the execution succeeds');
			const notFired = neverSeen.filter((id) => third.get(id) !== 1 || single(id) !== 'fired');
			assert.ok(notFired.length === 0, `unanswered and never applied, not fired once now: ${crashChecks.listed(notFired.map((id) => `${id} (${single(id)}, ${third.get(id)} fires)`))}`);
			const refired = skippedInRetry.filter((id) => third.get(id) > 0 || single(id) !== 'skipped');
			assert.ok(refired.length === 0, `skipped in the retry, not skipped now: ${crashChecks.listed(refired.map((id) => `${id} (${single(id)}, ${third.get(id)} fires)`))}`);
			const wrong = a.all.filter((id) => total(id) !== (a.inFlight.includes(id) ? 2 : 1));
			assert.ok(wrong.length === 0, `in all, each deal fired once (an in-flight one twice); not so: ${crashChecks.listed(wrong.map((id) => `${id}: ${total(id)}×`))}`);
		});
		await noticeChecks({ h, record, sandbox, deliver, fires, log: () => fs.readFileSync(logFile, 'utf8'), workflowName: workflow.name });
	} finally {
		if (server) await local.stopServer(server);
	}
}

/**
 * Issue 33: what a person sees of the crash case's runs outside their items, as the running n8n
 * keeps it: the hints on the node's task data and the execution's custom data (both from REST
 * `GET /rest/executions/:id`), and the node's lines in n8n's log (`n8n start`'s output, at
 * N8N_LOG_LEVEL=info). Then one more delivery, of a deal whose fire is applied and its answer lost.
 */
async function noticeChecks({ h, record, sandbox, deliver, fires, log, workflowName }) {
	const node = 'Fire Trigger';
	const linesOf = (execution) => notices.nodeLogLines(log(), { node, workflow: workflowName, execution });
	const onErrorOutput = (n) => `${n === 1 ? 'It is' : 'They are'} on the error output.`;

	if (h.retry) {
		const { analysis: a } = h;
		const answered = (what) => a.all.filter((id) => a.single(id) === what).length;
		const n = a.unanswered.length;
		await record('A6. the retry\'s output pane (REST): one warning hint naming the deals left unanswered, on the error output', () => {
			const [it, its, were] = n === 1 ? ['it', 'its', 'was'] : ['them', 'their', 'were'];
			const expected = n === 0 ? [] : [{
				type: 'warning',
				location: 'outputPane',
				message: `${notices.dealsNamed(a.unanswered)} ${were} not fired: another execution claimed ${its} Fire Once Key and never recorded an answer. Check ${it} in Bitrix24, then run ${it} with "Fire Once Keys Left Unanswered" set to "Fire (I Checked the Records)". ${onErrorOutput(n)}`,
			}];
			assert.deepEqual(notices.hintsOf(h.retry.data, node), expected, `the hints of execution ${h.retry.id}`);
		});
		await record('A7. the retry\'s custom data (REST): vibecode_needs_check = yes and its counts', () => {
			const expected = notices.customDataOf({ unanswered: n, skipped: answered('skipped'), fired: a.firedBySecond.length });
			assert.deepEqual(h.retry.customData, expected, `customData of execution ${h.retry.id}`);
		});
		await record('A8. n8n\'s log (info): the retry\'s progress, the warning naming what to check, its totals', (detail) => {
			const lines = linesOf(h.retry.id);
			const progress = lines.map(notices.progressOf).filter(Boolean);
			for (const p of progress) detail(`progress: ${p.line}`);
			assert.ok(progress.length >= 1, `the retry ran ${(h.retryMs / 1000).toFixed(0)}s (over 30 s) and wrote no progress line; its lines: ${JSON.stringify(lines)}`);
			for (const p of progress) {
				assert.equal(p.total, a.all.length, `counts all items: ${p.line}`);
				assert.ok(p.done > 0 && p.done < p.total && p.done + p.left === p.total, `done and left add up, some left: ${p.line}`);
				assert.equal(p.fired + p.mayHaveFired + p.unanswered + p.failed + p.skipped, p.done, `the kinds add up to done: ${p.line}`);
				assert.ok(p.perMinute > 0 && p.perMinute <= CRASH.perMinute * 1.1, `a pace within the node's ${CRASH.perMinute} a minute: ${p.line}`);
				assert.ok(p.eta, `and the time left: ${p.line}`);
				// (the killed process's fires may still count in the sandbox's window: "other users of the key" then, too)
				assert.match(p.line, /; the pace is held down by (.+ and )?the "Requests per Minute" cap$/, 'and that the cap, not the key, sets the pace');
			}
			const names = notices.dealsNamed(a.unanswered);
			const checkLine = `items need a check by hand: ${n} item${n === 1 ? '' : 's'} not sent: another execution left its Fire Once Key unanswered (${names}). The node's output lists them, each with what to do`;
			if (n) assert.ok(lines.includes(checkLine), `the warning line; the lines: ${JSON.stringify(lines)}`);
			const totals = new RegExp(`^${a.all.length} items done in .+: fired ${a.firedBySecond.length}, may have fired 0, ${n ? `Fire Once keys left unanswered ${n}, ` : ''}failed 0, skipped ${answered('skipped')}$`);
			assert.equal(lines.filter((line) => totals.test(line)).length, 1, `one line of totals; the lines: ${JSON.stringify(lines)}`);
			assert.equal(lines.length, progress.length + (n ? 2 : 1), `nothing else; the lines: ${JSON.stringify(lines)}`);
			assert.ok(!log().includes(CRASH.key), 'the API key is nowhere in the log');
		});
	}
	if (h.again) {
		await record('A9. the clean run (A5): no hint, custom data with the counts and no vibecode_needs_check, no line in an info log', () => {
			const { again } = h;
			assert.deepEqual(notices.hintsOf(again.data, node), [], `the hints of execution ${again.id}`);
			const fired = [...again.fires.values()].reduce((x, y) => x + y, 0);
			assert.deepEqual(again.customData, notices.customDataOf({ fired, skipped: h.analysis.all.length - fired }), `customData of execution ${again.id}`);
			assert.deepEqual(linesOf(again.id), [], 'a short clean run writes its totals at debug only');
		});
	}

	// A deal fired and its answer lost (the sandbox applies it, then answers 502), beside one that fires.
	await record('B. a fire applied and its answer lost (502) under n8n start: a warning hint naming the deal, custom data vibecode_needs_check = yes, a warning in n8n\'s log', async () => {
		assert.ok(h.rest, 'n8n is up (case A got that far)');
		const [lost, ok] = [CRASH.deals.length + 1, CRASH.deals.length + 2];
		sandbox.injectFault({ kind: 'json502', apply: true, times: Infinity, match: { path: '/v1/triggers/fire', entityId: String(lost) } });
		const atStart = fires().length;
		const run = await deliver(h.rest, [lost, ok]);
		assert.equal(run.status, 'success', 'the execution succeeds');
		assert.deepEqual(fires().slice(atStart).map((f) => String(f.entityId)).sort(), [lost, ok].map(String).sort(), 'each deal applied once');
		const { main, errors } = crashChecks.nodeOutputs(run.data, node);
		assert.deepEqual(main.map((j) => [String(j.entityId), j.success]), [[String(ok), true]], 'the answered deal on the main output');
		assert.deepEqual(errors.map((j) => String(j.error?.entityId ?? j.entityId ?? j.dealId)), [String(lost)], 'the lost answer on the error output');
		assert.deepEqual(notices.hintsOf(run.data, node), [{
			type: 'warning',
			location: 'outputPane',
			message: `Deal ${lost} may already have fired: check it in Bitrix24 before running it again. ${onErrorOutput(1)}`,
		}], `the hints of execution ${run.id}`);
		assert.deepEqual(run.customData, notices.customDataOf({ mayHaveFired: 1, fired: 1 }), `customData of execution ${run.id}`);
		assert.deepEqual(linesOf(run.id), [`items need a check by hand: 1 item may have fired (Deal ${lost}). The node's output lists them, each with what to do`], 'one warning line, nothing else');
	});
}

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

/** E2E_ONLY=workflows|crash (comma list): which parts run; all by default. */
const ONLY = new Set((process.env.E2E_ONLY || 'workflows,crash').split(',').map((p) => p.trim()).filter(Boolean));

async function main() {
	const started = Date.now();
	await local.buildPackage();
	const tested = await local.ensureN8n();

	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'vibecode-e2e-n8n-'));
	const sandbox = await local.startSandbox(0);
	model = await startFakeOpenAi();
	const results = [];
	/** One check: its line, then what it wants shown under it; resolves with whether it passed. */
	async function record(name, fn) {
		const t0 = Date.now();
		const details = [];
		let ok = true;
		try {
			await fn((line) => details.push(line));
			console.log(`  ok    ${name} (${local.elapsed(t0)})`);
		} catch (err) {
			ok = false;
			console.log(`  FAIL  ${name} (${local.elapsed(t0)}): ${err.message}`);
			if (err instanceof assert.AssertionError && err.operator === 'match') details.push(`actual: ${JSON.stringify(err.actual)}`);
		}
		for (const line of details) console.log(`        ${line}`);
		results.push({ name, ok });
		return ok;
	}
	try {
		local.installPackage(userFolder);
		// own ports, so that this can run beside `npm start`
		const env = local.n8nEnv(userFolder, {
			N8N_PORT: String(await local.pickPort(0)),
			N8N_RUNNERS_BROKER_PORT: String(await local.pickPort(0)),
		});
		console.log(`e2e: n8n folder ${userFolder}, sandbox ${sandbox.url}, scripted model ${model.url}`);
		// the first n8n command also creates the database, which takes a few seconds
		await local.importCredentials(sandbox, env, [model.credential, crashCredential(sandbox)]);

		if (ONLY.has('workflows')) {
			const workflows = [
				...(await local.importExamples(env)),
				...(await local.importExamples(env, path.join(local.ROOT, 'test', 'e2e'))),
			];
			for (const workflow of workflows) {
				sandbox.reset();
				sandbox.restoreRecords();
				model.reset();
				await record(workflow.name, async () => {
					SETUP[workflow.id]?.(sandbox);
					const expectsError = (CHECKS[workflow.id]?.length ?? 0) > 2;
					const run = await execute(workflow.id, env, expectsError);
					CHECKS[workflow.id]?.(run, sandbox, run.data?.resultData.error);
				});
			}
		}
		if (ONLY.has('crash')) {
			sandbox.reset();
			sandbox.restoreRecords();
			await crashCase({ env, sandbox, userFolder, record });
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
	console.log(`e2e: n8n ${tested.version} on Node.js ${tested.node}: ${passed} passed, ${failed} failed`);
	if (failed || passed === 0) process.exitCode = 1;
}

main().catch((err) => {
	console.error(`e2e: ${err.stack || err}`);
	console.log('e2e: 0 passed, 1 failed');
	process.exitCode = 1;
});
