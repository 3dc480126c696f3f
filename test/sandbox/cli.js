#!/usr/bin/env node
'use strict';

// Usage: node test/sandbox/cli.js [--port N] [--host 127.0.0.1] [--limit 300]
//        [--window-ms 60000] [--latency-ms 0]        (--limit 0 turns rate limiting off)
//        [--reset oldest|window|zero]               (what X-RateLimit-Reset holds; see rate-limit.js)
//        [--portal-rate 2 [--portal-burst 50]]      (the portal's leaky bucket; off unless --portal-rate > 0)
// stdout gets exactly one JSON line {"url","keys"} so scripts can parse it.

const { startSandbox, SEEDED } = require('./server');
const { READINGS } = require('./rate-limit');

const FLAGS = {
  '--port': 'port', '--host': 'host', '--limit': 'limit', '--window-ms': 'windowMs', '--latency-ms': 'latencyMs',
  '--portal-rate': 'portalRate', '--portal-burst': 'portalBurst', '--reset': 'reset',
};
const TEXT = new Set(['host', 'reset']);

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1', limit: 300, windowMs: 60000, reset: 'oldest', latencyMs: 0, portalRate: 0, portalBurst: 50 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const name = FLAGS[flag];
    if (!name) throw new Error(`unknown option ${argv[i]}`);
    const value = inline !== undefined ? inline : argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (TEXT.has(name)) {
      opts[name] = value;
    } else {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a number >= 0`);
      opts[name] = n;
    }
  }
  if (opts.portalRate > 0 && !(Number.isInteger(opts.portalBurst) && opts.portalBurst >= 1)) {
    throw new Error('--portal-burst must be a whole number >= 1');
  }
  if (!READINGS.includes(opts.reset)) throw new Error(`--reset must be one of ${READINGS.join(', ')}`);
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`sandbox: ${err.message}\n`);
    process.exit(2);
  }
  const sandbox = await startSandbox({
    port: opts.port,
    host: opts.host,
    rateLimit: opts.limit > 0 ? { limit: opts.limit, windowMs: opts.windowMs, reset: opts.reset } : false,
    latencyMs: opts.latencyMs,
    portal: opts.portalRate > 0 ? { drainPerSecond: opts.portalRate, burst: opts.portalBurst } : false,
  });
  process.stdout.write(`${JSON.stringify({ url: sandbox.url, keys: SEEDED })}\n`);
  const limit = opts.limit > 0 ? `${opts.limit} per ${opts.windowMs} ms per key, Reset ${opts.reset}` : 'off';
  const portal = opts.portalRate > 0 ? `${opts.portalRate}/s, burst ${opts.portalBurst}` : 'off';
  process.stderr.write(
    `Vibecode sandbox listening on ${sandbox.url} (rate limit ${limit}, portal ${portal}, latency ${opts.latencyMs} ms)\n`
    + `  personal key ${SEEDED.personal} | app key ${SEEDED.app} + Bearer ${SEEDED.session}\n`
    + `  expired key ${SEEDED.expired} | expired session ${SEEDED.expiredSession} | management ${SEEDED.management}`
    + ` | no crm scope ${SEEDED.noScope} | read-only ${SEEDED.readOnly}\n`
    + `  control API: ${sandbox.url}/__sandbox/{fires,ignored-fires,requests,reset,faults,random-faults,rate-limit,latency,portal,`
    + 'triggers,records,missing-records,restore-records,stage,automation,unregistered-code,keys,sessions}\n',
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`sandbox: ${err.stack || err}\n`);
  process.exit(1);
});
