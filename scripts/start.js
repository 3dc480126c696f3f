#!/usr/bin/env node
'use strict';

// `npm start`: build the node, run a real n8n with it installed as a community package, and a
// local Vibecode sandbox for it to talk to. The first run installs n8n (a few minutes); later
// runs reuse it and the n8n data in .n8n-local/. Ctrl-C stops both.
// n8n is the current 2.x (tools/n8n2), on the npm registry's Node 24 where this Node is older;
// `npm start -- --n8n1` (or VIBECODE_N8N=1) starts the last 1.x (tools/n8n) instead, with its
// own data folder: n8n 2.x migrates its database past what 1.x can open.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const local = require('./lib/n8n-local');
const { whatItDid } = require('../test/sandbox/pipelines');

const USER_FOLDER = path.join(local.ROOT, local.N8N_LINE === 1 ? '.n8n-local-n8n1' : '.n8n-local');
const FIRST_WORKFLOW = 'Vibecode: fire a trigger for 3 deals';

let n8n; // the n8n child process, once started

/** Imports the examples on the first run and when they change, not over the user's edits each time. */
async function importExamplesIfChanged(env) {
	const stampFile = path.join(USER_FOLDER, 'examples.sha256');
	const hash = crypto.createHash('sha256');
	for (const file of local.exampleFiles()) hash.update(fs.readFileSync(file));
	const stamp = hash.digest('hex');
	if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return;
	console.log('Importing the example workflows from examples/…');
	await local.importExamples(env);
	fs.writeFileSync(stampFile, stamp);
}

/** The example workflows' names but the first one's, as n8n lists them. */
function otherExamples() {
	return local
		.exampleFiles()
		.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')).name)
		.filter((name) => name !== FIRST_WORKFLOW);
}

/**
 * Tells about each fire the sandbox records, so clicking "Execute workflow" shows up here too,
 * and about each fire it ignored because the record does not exist (answered success all the same).
 */
function reportFires(sandbox) {
	let seenFired = 0;
	let seenIgnored = 0;
	return setInterval(() => {
		// after a reset through the control API the lists start again
		if (sandbox.fires.length < seenFired) seenFired = 0;
		if (sandbox.ignoredFires.length < seenIgnored) seenIgnored = 0;
		const fired = sandbox.fires.slice(seenFired).map((f) => ({
			at: f.at,
			line: `sandbox: fired "${f.triggerId}" for ${f.entityType} ${f.entityId} (${f.apiKeyId} key): ${whatItDid(f)}`,
		}));
		const ignored = sandbox.ignoredFires.slice(seenIgnored).map((f) => ({
			at: f.at,
			line:
				`sandbox: "${f.triggerId}" for ${f.entityType} ${f.entityId} (${f.apiKeyId} key): no ${f.entityType} ` +
				`${f.entityId} exists, nothing ran (answered success, as Bitrix24 does)`,
		}));
		for (const { line } of [...fired, ...ignored].sort((a, b) => a.at - b.at)) console.log(line);
		seenFired = sandbox.fires.length;
		seenIgnored = sandbox.ignoredFires.length;
	}, 500);
}

async function main() {
	await local.buildPackage();
	const { version, node } = await local.ensureN8n();

	const sandbox = await local.startSandbox(5690);
	fs.mkdirSync(USER_FOLDER, { recursive: true });
	local.installPackage(USER_FOLDER);
	const port = await local.pickPort(5678);
	// the Code node's task runner talks to n8n on a second port (default 5679)
	const brokerPort = await local.pickPort(5679);
	const env = local.n8nEnv(USER_FOLDER, { N8N_PORT: String(port), N8N_RUNNERS_BROKER_PORT: String(brokerPort) });

	console.log(`Vibecode sandbox on ${sandbox.url}; preparing n8n in ${local.rel(USER_FOLDER)}…`);
	// every run: the sandbox's port may differ from last time
	await local.importCredentials(sandbox, env);
	await importExamplesIfChanged(env);

	n8n = require('node:child_process').spawn(local.N8N_NODE, [local.N8N_BIN, 'start'], {
		cwd: local.N8N_DIR,
		env,
		stdio: 'inherit',
	});
	let stopping = false;
	const stop = (code) => {
		if (stopping) return;
		stopping = true;
		console.log('\nStopping n8n and the sandbox…');
		// the terminal's Ctrl-C reaches n8n too; this covers a plain `kill` of this script
		if (n8n.exitCode === null) n8n.kill('SIGINT');
		const force = setTimeout(() => n8n.kill('SIGKILL'), 15000);
		const done = () => {
			clearTimeout(force);
			sandbox.close().then(() => process.exit(code));
		};
		if (n8n.exitCode !== null) done();
		else n8n.once('exit', done);
	};
	process.on('SIGINT', () => stop(0));
	process.on('SIGTERM', () => stop(0));
	n8n.on('exit', (code) => {
		if (!stopping) {
			console.error(`n8n exited (code ${code}).`);
			stop(code || 1);
		}
	});

	const url = `http://localhost:${port}`;
	await local.waitForN8n(url, { child: n8n });
	const settings = await (await fetch(`${url}/rest/settings`)).json();
	const needsOwner = settings.data?.userManagement?.showSetupOnFirstLoad;
	reportFires(sandbox);

	console.log(
		[
			'',
			'────────────────────────────────────────────────────────────────────',
			`  n8n ${version} is ready: ${url}`,
			`  (Node.js ${node}${local.N8N_LINE === 1 ? '; the last 1.x line: `npm start` without --n8n1 runs 2.x' : ''})`,
			'',
			needsOwner
				? '  1. Open it and set up the owner account (first run only: any name,\n' +
					`     email and password; it stays in ${local.rel(USER_FOLDER)}/ on this machine).`
				: '  1. Open it and sign in with the owner account you set up before.',
			`  2. Open the workflow "${FIRST_WORKFLOW}"`,
			'     and click "Execute workflow": it fires "payment_received" for deals',
			'     5141, 5142 and 5143 at the sandbox (the fires are printed here).',
			'  Also there:',
			...otherExamples().map((name) => `   - "${name}"`),
			'  Credentials "Vibecode sandbox (OAuth app)" and "Vibecode sandbox',
			`  (personal key)" point at the sandbox on ${sandbox.url}.`,
			'',
			'  Ctrl-C stops n8n and the sandbox.',
			'────────────────────────────────────────────────────────────────────',
		].join('\n'),
	);
}

main().catch((err) => {
	console.error(`start: ${err.stack || err}`);
	if (n8n && n8n.exitCode === null) n8n.kill('SIGKILL');
	process.exit(1);
});
