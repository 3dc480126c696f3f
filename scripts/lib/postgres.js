'use strict';

// Shared by scripts/e2e-queue.js and scripts/bench-fire-once.js: PostgreSQL (and Redis) from
// Debian's packages, installed when missing, and a private PostgreSQL cluster on its own port
// and socket folder, which the script that needs it starts and stops (nothing else starts them here).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { pickPort } = require('./n8n-local');

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a command to its end; rejects on a non-zero exit. */
function sh(cmd, args, { env = process.env, cwd, timeoutMs = 300000, allowFailure = false } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		child.stdout.on('data', (d) => (out += d));
		child.stderr.on('data', (d) => (out += d));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('error', (err) => {
			clearTimeout(timer);
			reject(err);
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			if (code === 0 || allowFailure) return resolve({ code, out });
			reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}\n${out.trim().split('\n').slice(-15).join('\n')}`));
		});
	});
}

/** Runs a command as the `postgres` user when this script runs as root (initdb refuses root). */
const asPostgres = (cmd, args, opts) => (IS_ROOT ? sh(which('runuser') || 'runuser', ['-u', 'postgres', '--', cmd, ...args], opts) : sh(cmd, args, opts));

function which(name) {
	for (const dir of (process.env.PATH || '').split(path.delimiter).concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])) {
		const file = path.join(dir, name);
		try {
			fs.accessSync(file, fs.constants.X_OK);
			return file;
		} catch {
			// not here
		}
	}
	return null;
}

/** The newest /usr/lib/postgresql/<version>/bin holding initdb (Debian's layout), else initdb on PATH. */
function postgresBinDir() {
	const base = '/usr/lib/postgresql';
	const versions = fs.existsSync(base)
		? fs
				.readdirSync(base)
				.filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
				.sort((a, b) => Number(b) - Number(a))
		: [];
	if (versions.length) return path.join(base, versions[0], 'bin');
	const initdb = which('initdb');
	return initdb && path.dirname(initdb);
}

/**
 * Installs PostgreSQL (and Redis, when `redis`) from Debian's packages when their binaries are
 * missing; resolves with PostgreSQL's bin folder and redis-server's path.
 */
async function ensureServices({ redis: wantRedis = true, log = console.log } = {}) {
	let pgBin = postgresBinDir();
	let redis = wantRedis ? which('redis-server') : null;
	if (pgBin && (redis || !wantRedis)) return { pgBin, redis };
	const missing = [!pgBin && 'postgresql', wantRedis && !redis && 'redis-server'].filter(Boolean);
	if (!IS_ROOT || !which('apt-get')) {
		throw new Error(`${missing.join(' and ')} missing; install them (Debian: apt-get install ${missing.join(' ')}) or run this as root on Debian`);
	}
	log(`Installing ${missing.join(', ')} with apt-get…`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	// Keep the packages' own service start from launching a server on the default ports: this
	// script starts its own, and nothing would stop theirs (policy-rc.d 101 = "action forbidden").
	const policy = '/usr/sbin/policy-rc.d';
	const ownPolicy = !fs.existsSync(policy);
	if (ownPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
	try {
		await sh('apt-get', ['update'], { env, timeoutMs: 600000 });
		await sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: 900000 });
	} finally {
		if (ownPolicy) fs.rmSync(policy, { force: true });
	}
	pgBin = postgresBinDir();
	redis = wantRedis ? which('redis-server') : null;
	if (!pgBin || (wantRedis && !redis)) throw new Error('apt-get install finished, but initdb or redis-server is still missing');
	return { pgBin, redis };
}

/**
 * A private cluster in `dir`/postgres with a database and role `n8n`; its stop goes on `stops`
 * ({ name, stop }) before it starts, so that a cleanup after a failed start stops it too.
 * `durable`: PostgreSQL's own defaults (fsync, synchronous commits), as a real server runs; else
 * they are off, which is faster and enough for a check that never survives a power cut.
 */
async function startPostgres(pgBin, dir, { stops, durable = false }) {
	const pgDir = path.join(dir, 'postgres');
	const data = path.join(pgDir, 'data');
	const socketDir = path.join(pgDir, 'socket');
	fs.mkdirSync(socketDir, { recursive: true });
	if (IS_ROOT) {
		const uid = Number((await sh('id', ['-u', 'postgres'])).out.trim());
		const gid = Number((await sh('id', ['-g', 'postgres'])).out.trim());
		fs.chmodSync(dir, 0o755);
		for (const d of [pgDir, socketDir]) fs.chownSync(d, uid, gid);
		const { code } = await asPostgres('test', ['-w', pgDir], { allowFailure: true });
		if (code !== 0) throw new Error(`the postgres user cannot write to ${pgDir}: set TMPDIR to a folder every user can reach (such as /tmp)`);
	}
	const port = await pickPort(0);
	const password = crypto.randomBytes(12).toString('hex');
	await asPostgres(path.join(pgBin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
	const pgCtl = path.join(pgBin, 'pg_ctl');
	const fast = durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
	const opts = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1${fast}`;
	stops.push({ name: 'PostgreSQL', stop: () => asPostgres(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], { timeoutMs: 60000 }) });
	await asPostgres(pgCtl, ['-D', data, '-l', path.join(pgDir, 'postgres.log'), '-w', '-t', '60', '-o', opts, 'start'], { timeoutMs: 90000 });
	const psql = fs.existsSync(path.join(pgBin, 'psql')) ? path.join(pgBin, 'psql') : 'psql';
	await asPostgres(psql, [
		'-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q',
		'-c', `CREATE ROLE n8n LOGIN PASSWORD '${password}'`,
		'-c', 'CREATE DATABASE n8n OWNER n8n',
	]);
	const version = (await sh(path.join(pgBin, 'postgres'), ['--version'])).out.trim();
	return { port, password, database: 'n8n', user: 'n8n', version };
}

/** What n8n needs to use the cluster startPostgres started. */
const postgresEnv = (pg) => ({
	DB_TYPE: 'postgresdb',
	DB_POSTGRESDB_HOST: '127.0.0.1',
	DB_POSTGRESDB_PORT: String(pg.port),
	DB_POSTGRESDB_DATABASE: pg.database,
	DB_POSTGRESDB_USER: pg.user,
	DB_POSTGRESDB_PASSWORD: pg.password,
});

module.exports = { IS_ROOT, ensureServices, startPostgres, postgresEnv };
