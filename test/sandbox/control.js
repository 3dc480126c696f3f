'use strict';

// HTTP mirror of the Sandbox control methods, for tools that run the sandbox
// out of process (cli.js). Loopback only, no auth, never rate-limited or logged.

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res, status, payload) {
  const buf = Buffer.from(JSON.stringify(payload), 'utf8');
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': buf.length }).end(buf);
}

function isLoopback(address) {
  return typeof address === 'string'
    && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.once('error', reject);
    req.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      try {
        resolve(text === '' ? undefined : JSON.parse(text));
      } catch {
        reject(new TypeError('body is not valid JSON'));
      }
    });
  });
}

const routes = {
  'GET /__sandbox/fires': (sb) => sb.fires,
  'GET /__sandbox/ignored-fires': (sb) => sb.ignoredFires,
  'GET /__sandbox/requests': (sb) => sb.requests,
  'GET /__sandbox/faults': (sb) => sb.pendingFaults,
  'POST /__sandbox/reset': (sb) => {
    sb.reset();
    return true;
  },
  // One fault or an array of them.
  'POST /__sandbox/faults': (sb, body) => (Array.isArray(body) ? body.map((f) => sb.injectFault(f)) : sb.injectFault(body)),
  'POST /__sandbox/random-faults': (sb, body) => {
    sb.setRandomFaults(body || null);
    return true;
  },
  'POST /__sandbox/rate-limit': (sb, body) => {
    sb.setRateLimit(body);
    return true;
  },
  // The portal's leaky bucket behind every key: { drainPerSecond, burst }, or false / null to turn it off.
  'GET /__sandbox/portal': (sb) => ({ state: sb.portal, refusals: sb.portalRefusals }),
  'POST /__sandbox/portal': (sb, body) => {
    sb.setPortal(body === undefined ? false : body);
    return true;
  },
  'POST /__sandbox/latency': (sb, body) => {
    sb.setLatency(Number(body && body.ms));
    return true;
  },
  'POST /__sandbox/triggers': (sb, body) => {
    sb.setTriggers(Array.isArray(body) ? body : body && body.triggers);
    return true;
  },
  'POST /__sandbox/records': (sb, body) => {
    sb.setRecords(body && body.entityType, body && body.records);
    return true;
  },
  'GET /__sandbox/missing-records': (sb) => sb.missingRecords,
  // One { entityType, id } or an array of them.
  'POST /__sandbox/missing-records': (sb, body) => {
    for (const r of Array.isArray(body) ? body : [body]) sb.removeRecord(r && r.entityType, r && r.id);
    return sb.missingRecords;
  },
  'POST /__sandbox/restore-records': (sb) => {
    sb.restoreRecords();
    return true;
  },
  // A record's stage: { entityType, id } → the stage now; with `stage`, the record is put there first.
  'POST /__sandbox/stage': (sb, body) => {
    if (body && body.stage !== undefined) sb.setStage(body.entityType, body.id, body.stage);
    return sb.stageOf(body && body.entityType, body && body.id);
  },
  'GET /__sandbox/automation': (sb) => sb.automation,
  // Where triggers move records: { code: [{ entityType, stage }], … }; null resets the defaults.
  'POST /__sandbox/automation': (sb, body) => {
    if (body === null || body === undefined) sb.resetAutomation();
    else for (const [code, rules] of Object.entries(body)) sb.setAutomation(code, rules);
    return sb.automation;
  },
  'POST /__sandbox/unregistered-code': (sb, body) => {
    sb.setUnregisteredCode(body);
    return true;
  },
  'POST /__sandbox/keys': (sb, body) => {
    const { key, ...spec } = body || {};
    return sb.addKey(key, spec);
  },
  'POST /__sandbox/sessions': (sb, body) => {
    const { token, ...spec } = body || {};
    sb.addSession(token, spec);
    return true;
  },
};

async function handleControl(sandbox, req, res, path) {
  if (!isLoopback(req.socket.remoteAddress)) {
    return send(res, 403, { success: false, error: { code: 'FORBIDDEN', message: 'control API is loopback-only' } });
  }
  const route = routes[`${req.method} ${path}`];
  if (!route) {
    return send(res, 404, { success: false, error: { code: 'NOT_FOUND', message: `no control route ${req.method} ${path}` } });
  }
  try {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    send(res, 200, { success: true, data: route(sandbox, body) });
  } catch (err) {
    send(res, 400, { success: false, error: { code: 'BAD_REQUEST', message: err.message } });
  }
}

module.exports = { handleControl };
