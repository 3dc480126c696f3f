'use strict';

// Local stand-in for the Bitrix24 Vibecode API (/v1/me, /v1/triggers,
// /v1/triggers/fire, /v1/{deals|leads|contacts|companies|quotes|invoices}/search) with the gateway's auth rules, a per-key
// rate limit (sliding or fixed windows, X-RateLimit-Reset in the reading asked for), injectable
// transport/gateway faults and, optionally, the portal's own leaky bucket behind all keys. Node
// built-ins only.

const http = require('node:http');
const { RateLimiter, rateLimitHeaders } = require('./rate-limit');
const { PortalBucket } = require('./portal');
const { FaultQueue, RandomFaults, renderFault, envelope } = require('./faults');
const {
  SEEDED, seededKeys, seededSessions, normalizeKeySpec, parseAuthorization, authenticate, authorizeCrm,
  authorizeTriggers, describeKey, fail,
} = require('./auth');
const { handleControl } = require('./control');
const { DEFAULT_TRIGGERS, ENTITY_TYPES, copyTriggers, validateFire } = require('./triggers');
const { PLURALS, RecordBook, seedRecords, copyRecords, searchRecords } = require('./records');
const { Pipelines, STAGE_FIELDS } = require('./pipelines');

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;
/** How the gateway answers a fire of a code the calling application did not register (undocumented). */
const DEFAULT_UNREGISTERED = Object.freeze({ status: 422, code: 'BITRIX_ERROR' });
const ROUTES = {
  '/v1/me': { GET: 'me' },
  '/v1/triggers': { GET: 'list' },
  '/v1/triggers/fire': { POST: 'fire' },
  ...Object.fromEntries(Object.keys(PLURALS).map((plural) => [`/v1/${plural}/search`, { POST: 'search' }])),
};

function normalizeUnregistered(config) {
  if (!config || typeof config !== 'object') throw new TypeError('unregisteredCode must be an object { status, code }');
  const out = { ...DEFAULT_UNREGISTERED, ...config };
  if (!(Number.isInteger(out.status) && out.status >= 400 && out.status <= 599)) {
    throw new TypeError('unregisteredCode.status must be an HTTP error status (400-599)');
  }
  if (typeof out.code !== 'string' || out.code === '') throw new TypeError('unregisteredCode.code must be a non-empty string');
  return { status: out.status, code: out.code };
}

function redactHeaders(headers) {
  const out = { ...headers };
  for (const h of ['x-api-key', 'authorization']) if (h in out) out[h] = '<redacted>';
  return out;
}

class Sandbox {
  #server;
  #sockets = new Set();
  #waits = new Set();
  /** Ids of keys whose process died (cutOff). */
  #cut = new Set();
  #closing = null;
  #seq = 0;
  #limiter;
  #portal;
  #faults = new FaultQueue();
  #random = null;
  #latencyMs;
  #triggers;
  #records = seedRecords();
  #book = new RecordBook();
  #pipelines = new Pipelines((entityType, id) => {
    const seeded = this.#records[entityType].find((r) => r.id === id);
    return seeded && seeded[STAGE_FIELDS[entityType]];
  });
  #unregistered = DEFAULT_UNREGISTERED;
  #keys = seededKeys();
  #sessions = seededSessions();
  #recordRequests;
  /** @type {Array<{ path: string, arrived: () => void }>} */
  #awaited = [];
  /** @type {Array<{ count: number, reached: () => void }>} */
  #firesAwaited = [];

  constructor(options) {
    this.fires = [];
    this.ignoredFires = [];
    this.requests = [];
    this.portalRefusals = 0;
    this.keys = SEEDED;
    this.#limiter = new RateLimiter(options.rateLimit === undefined ? { limit: 300, windowMs: 60000 } : options.rateLimit);
    this.#portal = new PortalBucket(options.portal);
    this.setLatency(options.latencyMs || 0);
    this.#triggers = copyTriggers(options.triggers || DEFAULT_TRIGGERS);
    this.#recordRequests = options.recordRequests !== false;
    for (const r of options.missingRecords || []) this.removeRecord(r.entityType, r.id);
    if (options.unregisteredCode !== undefined) this.setUnregisteredCode(options.unregisteredCode);
    for (const [key, spec] of Object.entries(options.keys || {})) this.addKey(key, spec);
    this.#server = http.createServer({ noDelay: true }, (req, res) => this.#onRequest(req, res));
    // Longer than client pools' idle timeouts (undici: 4 s), so clients close idle sockets first.
    this.#server.keepAliveTimeout = 10000;
    this.#server.headersTimeout = 15000;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(port, host) {
    await new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.port = this.#server.address().port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  close() {
    if (!this.#closing) {
      const serverClosed = new Promise((resolve) => this.#server.close(resolve));
      // Release hung `slow` requests and idle keep-alive sockets, or close() would wait for clients.
      for (const w of [...this.#waits]) w.cancel();
      const socketsClosed = [...this.#sockets].map((s) => new Promise((resolve) => {
        s.once('close', resolve);
        s.destroy();
      }));
      // The extra tick lets the responses' own 'close' handlers run, so every log entry has its endAt.
      this.#closing = Promise.all([serverClosed, ...socketsClosed]).then(() => new Promise((r) => setImmediate(r)));
    }
    return this.#closing;
  }

  reset() {
    this.fires.length = 0;
    this.ignoredFires.length = 0;
    this.requests.length = 0;
    this.#faults.clear();
    this.#random = null;
    this.#limiter.reset();
    this.#portal.reset();
    this.portalRefusals = 0;
    this.#pipelines.resetStages();
  }

  /** Resolves once a request on `path` has arrived, its body read: at once if one is in `requests`. */
  arrival(path) {
    if (this.requests.some((r) => r.path === path && r.body !== null)) return Promise.resolve();
    return new Promise((arrived) => this.#awaited.push({ path, arrived }));
  }

  /** Resolves once `fires` holds `count` fires: at once if it does. */
  firesReach(count) {
    if (this.fires.length >= count) return Promise.resolve();
    return new Promise((reached) => this.#firesAwaited.push({ count, reached }));
  }

  injectFault(fault) {
    const f = this.#faults.push(fault);
    return { ...f, match: { ...f.match } };
  }

  get pendingFaults() {
    return this.#faults.items.map((f) => ({ ...f, match: { ...f.match } }));
  }

  setRandomFaults(config) {
    this.#random = config ? new RandomFaults(config) : null;
  }

  setRateLimit(config) {
    this.#limiter.configure(config);
  }

  /**
   * The portal's leaky bucket behind every key ({ drainPerSecond, burst }), or false to turn it off.
   * Starts empty.
   */
  setPortal(config) {
    this.#portal.configure(config);
  }

  /** { drainPerSecond, burst, level } now, or null while the portal model is off. */
  get portal() {
    return this.#portal.state();
  }

  setLatency(ms) {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new TypeError('latency must be a number >= 0');
    this.#latencyMs = ms;
  }

  setTriggers(list) {
    this.#triggers = copyTriggers(list);
  }

  /** Replaces the records POST /v1/{plural}/search finds for one entity type. */
  setRecords(entityType, list) {
    this.#records[entityType] = copyRecords(entityType, list);
  }

  /** The record stops existing: fires for it are ignored, searches do not find it. Not undone by reset(). */
  removeRecord(entityType, id) {
    this.#book.remove(entityType, id);
  }

  /** Every removed record exists again. */
  restoreRecords() {
    this.#book.restore();
  }

  /** Whether a fire for this record would run: every positive whole ID exists unless removed. */
  recordExists(entityType, id) {
    return this.#book.has(entityType, id);
  }

  /** The removed records, as { entityType, id }. */
  get missingRecords() {
    return this.#book.list();
  }

  /** A record's stage now (its seeded stage, or its pipeline's first, until a fire or setStage moves it); null for a contact or company. */
  stageOf(entityType, id) {
    RecordBook.check(entityType, id);
    return this.#pipelines.stageOf(entityType, id);
  }

  /** Puts a record at a stage of one of its type's pipelines (the pipeline is the stage's). Undone by reset(). */
  setStage(entityType, id, stage) {
    this.#pipelines.setStage(entityType, RecordBook.check(entityType, id), stage);
  }

  /** Sets the stages a trigger moves records to: [{ entityType, stage }], [] for none. Kept by reset(). */
  setAutomation(code, rules) {
    this.#pipelines.setAutomation(code, rules);
  }

  /** Every trigger back on the default stages. */
  resetAutomation() {
    this.#pipelines.resetAutomation();
  }

  /** Where each trigger is set, by code. */
  get automation() {
    return this.#pipelines.automation;
  }

  /** How a fire of an unregistered code with an application key is refused. Default { status: 422, code: 'BITRIX_ERROR' }. */
  setUnregisteredCode(config) {
    this.#unregistered = normalizeUnregistered(config);
  }

  /**
   * The process that uses `key` died: from now on its requests are never answered nor applied
   * (their connections hang, as to a process that is gone), and the answers it was waiting for
   * are never delivered. What it had sent before stays applied. Undone by reset().
   */
  cutOff(key) {
    const k = this.#keys.get(key);
    if (!k) throw new TypeError(`unknown key "${key}"`);
    this.#cut.add(k.id);
  }

  addKey(key, spec) {
    const k = normalizeKeySpec(key, spec);
    this.#keys.set(key, k);
    return { id: k.id, type: k.type };
  }

  addSession(token, spec = {}) {
    if (typeof token !== 'string' || token === '') throw new TypeError('session token must be a non-empty string');
    this.#sessions.set(token, { expired: Boolean(spec.expired), user: spec.user || { id: 8, name: 'Added User' } });
  }

  #onRequest(req, res) {
    const path = req.url.split('?')[0];
    const handler = path.startsWith('/__sandbox/') ? handleControl(this, req, res, path) : this.#handleApi(req, res, path);
    handler.catch((err) => {
      process.stderr.write(`sandbox: ${err && err.stack}\n`);
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': JSON_TYPE }).end(JSON.stringify(envelope('INTERNAL_ERROR', String(err))));
      }
    });
  }

  async #handleApi(req, res, path) {
    const { method } = req;
    const authz = parseAuthorization(req.headers.authorization);
    const entry = {
      id: ++this.#seq, method, path, at: Date.now(), endAt: null, status: null, apiKeyId: null,
      headers: redactHeaders(req.headers), hasAuthorization: authz.present, authScheme: authz.scheme,
      body: null, fault: null, applied: false, fired: false, portalRefused: false,
    };
    if (this.#recordRequests) this.requests.push(entry);
    const ctx = { req, res, entry, closed: false, rl: null };
    res.once('close', () => {
      ctx.closed = true;
      if (entry.endAt === null) entry.endAt = Date.now();
    });

    const route = ROUTES[path];
    if (!route || !route[method]) {
      ctx.rl = this.#limiter.peek(null, undefined, entry.at);
      if (!(await this.#readBody(ctx))) return;
      if (!route) return this.#reply(ctx, fail(404, 'NOT_FOUND', `Route ${method} ${path} not found`));
      return this.#reply(ctx, fail(405, 'METHOD_NOT_ALLOWED', `Method ${method} is not allowed for ${path}`),
        { Allow: Object.keys(route).join(', ') });
    }

    const who = authenticate(req.headers, this.#keys, this.#sessions);
    if (who.key) entry.apiKeyId = who.key.id;
    if (who.key && this.#cut.has(who.key.id)) return void (await this.#wait(ctx, -1));
    if (who.error) {
      ctx.rl = this.#limiter.peek(who.key ? who.key.id : null, who.key && who.key.limit, entry.at);
      if (!(await this.#readBody(ctx))) return;
      return this.#reply(ctx, who.error);
    }

    ctx.rl = this.#limiter.take(who.key.id, who.key.limit, entry.at);
    if (ctx.rl && !ctx.rl.allowed) {
      if (!(await this.#readBody(ctx))) return;
      const { retryAfter } = ctx.rl;
      return this.#reply(ctx, {
        status: 429,
        body: envelope('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { hint: 'Wait 1-2 seconds and retry the request.', retryAfter }),
      }, { 'Retry-After': String(retryAfter) });
    }

    // Faults sit behind auth and the limiter: a faulted request has been counted.
    // The random roll is drawn for every counted request so a seed gives a fixed sequence.
    const roll = this.#random ? this.#random.roll(method, path) : null;
    const head = this.#faults.peekHead(method, path);
    if (head ? head.kind === 'resetBeforeBody' : roll && roll.kind === 'resetBeforeBody') {
      if (head) this.#faults.consume(head);
      entry.fault = 'resetBeforeBody';
      return this.#destroy(ctx);
    }
    const body = await this.#readBody(ctx);
    if (!body) return;
    const call = { route: route[method], method, key: who.key, session: who.session, body, entry };
    const fault = this.#faults.take(method, path, body.json) || roll;
    if (!fault) return this.#reply(ctx, this.#process(call));
    entry.fault = fault.kind;
    return this.#runFault(ctx, fault, call);
  }

  /**
   * The request reaches Bitrix24: it goes into the portal's bucket, or the portal is overloaded and
   * the gateway answers 502 BITRIX_UNAVAILABLE (the json502 fault's answer) — nothing was applied.
   * Returns that answer, or null when the request got through.
   */
  #overloaded(entry) {
    if (this.#portal.take(Date.now())) return null;
    this.portalRefusals++;
    entry.portalRefused = true;
    const { status, body } = renderFault({ kind: 'json502' });
    return { status, body };
  }

  /** What the real gateway would answer; records the fire when it is accepted. */
  #process({ route, method, key, session, body, entry }) {
    // The gateway describes the key from its own records: /v1/me is not a portal call.
    if (route === 'me') return { status: 200, body: { success: true, data: describeKey(key, session) } };
    if (route === 'search') {
      // A search is a read: read-only keys may search.
      const deniedRead = authorizeCrm(key, false);
      if (deniedRead) return deniedRead;
      const entityType = PLURALS[entry.path.split('/')[2]];
      const found = searchRecords(entityType, this.#records[entityType], body, (id) => this.#book.has(entityType, id),
        (id) => this.#pipelines.stageOf(entityType, id));
      // A body the gateway refuses (400, 413) never reaches the portal.
      return found.status < 400 ? this.#overloaded(entry) || found : found;
    }
    const denied = authorizeTriggers(key, method);
    if (denied) return denied;
    if (route === 'list') {
      const busy = this.#overloaded(entry);
      if (busy) return busy;
      if (key.type !== 'app') {
        return fail(403, 'BITRIX_ACCESS_DENIED', 'Access denied! Application context required',
          'Listing triggers needs an OAuth application key (vibe_app_) plus "Authorization: Bearer <user session token>".');
      }
      return { status: 200, body: { success: true, data: this.#triggers.map((t) => ({ ...t })) } };
    }
    const checked = validateFire(body);
    if (!checked.fire) return checked;
    const { fire } = checked;
    // Past the gateway's own checks: from here on Bitrix24 answers (its code check included).
    const busy = this.#overloaded(entry);
    if (busy) return busy;
    // Bitrix24 checks the code against the calling application's own triggers; a personal key
    // is not an application, and its fires are not checked (as Vibecode's examples show).
    if (key.type === 'app' && !this.#triggers.some((t) => t.CODE === String(fire.triggerId))) {
      const { status, code } = this.#unregistered;
      return { status, body: envelope(code, `Trigger with code ${fire.triggerId} is not registered.`) };
    }
    const record = { ...fire, apiKeyId: key.id, at: Date.now() };
    // Like crm.automation.trigger.execute: data:true even when no record has that ID (nothing runs)
    // or no robot listens.
    if (!this.#book.has(fire.entityType, fire.entityId)) {
      this.ignoredFires.push({ ...record, reason: 'no such record' });
      return { status: 200, body: { success: true, data: true } };
    }
    // The automation: the record moves forward to the trigger's stage, or nothing happens.
    const { moved, stageBefore, stageAfter } = this.#pipelines.fire(fire.entityType, fire.entityId, fire.triggerId);
    this.fires.push(moved === null ? { ...record, moved } : { ...record, moved, stageBefore, stageAfter });
    entry.fired = true;
    for (const one of this.#firesAwaited.filter((waiting) => waiting.count <= this.fires.length)) one.reached();
    this.#firesAwaited = this.#firesAwaited.filter((waiting) => waiting.count > this.fires.length);
    return { status: 200, body: { success: true, data: true }, fired: true };
  }

  async #runFault(ctx, fault, call) {
    // `apply` models the ambiguous write: the portal did the work, then the answer was lost.
    const done = fault.apply ? this.#process(call) : null;
    if (done) ctx.entry.applied = Boolean(done.fired);
    if (fault.delayMs !== 0 && !(await this.#wait(ctx, fault.delayMs))) return;
    if (fault.kind === 'slow') return this.#reply(ctx, done || this.#process(call));
    if (fault.kind === 'resetAfterBody' || fault.kind === 'resetBeforeBody') return this.#destroy(ctx);
    const r = renderFault(fault);
    return this.#reply(ctx, r, { ...r.headers, ...fault.headers }, r.contentType);
  }

  #destroy(ctx) {
    ctx.entry.endAt = Date.now();
    const s = ctx.req.socket;
    if (s.destroyed) return;
    // RST rather than FIN: what a crashed upstream or a middlebox drop looks like to the client.
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  }

  /** Resolves true after `ms` (-1: never), false as soon as the client leaves or the sandbox closes. */
  #wait(ctx, ms) {
    if (ctx.closed || this.#closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {};
      const finish = (ok) => {
        clearTimeout(w.timer);
        this.#waits.delete(w);
        ctx.res.off('close', w.cancel);
        resolve(ok);
      };
      w.cancel = () => finish(false);
      if (ms >= 0) w.timer = setTimeout(finish, ms, true);
      this.#waits.add(w);
      ctx.res.once('close', w.cancel);
    });
  }

  /** Reads the whole body; null if the client went away first. */
  #readBody(ctx) {
    return new Promise((resolve) => {
      if (ctx.closed) return resolve(null);
      const chunks = [];
      let size = 0;
      ctx.req.on('data', (c) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      ctx.req.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = { text, json: undefined, jsonError: false, tooLarge: size > MAX_BODY_BYTES };
        if (text.trim() !== '' && !body.tooLarge) {
          try {
            body.json = JSON.parse(text);
          } catch {
            body.jsonError = true;
          }
        }
        ctx.entry.body = body.json !== undefined ? body.json : text === '' ? null : text;
        for (const one of this.#awaited.filter((waiting) => waiting.path === ctx.entry.path)) one.arrived();
        this.#awaited = this.#awaited.filter((waiting) => waiting.path !== ctx.entry.path);
        resolve(body);
      });
      ctx.req.once('close', () => resolve(null));
      ctx.req.once('error', () => resolve(null));
    });
  }

  async #reply(ctx, { status, body }, headers = {}, contentType = JSON_TYPE) {
    if (this.#latencyMs > 0 && !(await this.#wait(ctx, this.#latencyMs))) return;
    if (this.#cut.has(ctx.entry.apiKeyId)) return void (await this.#wait(ctx, -1));
    if (ctx.closed) return;
    const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
    const { res } = ctx;
    res.statusCode = status;
    // setHeader is case-insensitive, so fault headers can override the defaults; null leaves one out.
    res.setHeader('Content-Type', contentType);
    for (const [name, value] of Object.entries({ ...rateLimitHeaders(ctx.rl), ...headers })) {
      if (value === null) res.removeHeader(name);
      else res.setHeader(name, value);
    }
    res.setHeader('Content-Length', buf.length);
    res.setHeader('X-Request-Id', String(ctx.entry.id));
    ctx.entry.status = status;
    res.end(buf);
  }
}

/** Starts a sandbox listening on options.port (0 = any free port). */
async function startSandbox(options = {}) {
  const sandbox = new Sandbox(options);
  await sandbox.listen(options.port || 0, options.host || '127.0.0.1');
  return sandbox;
}

module.exports = { startSandbox, SEEDED, DEFAULT_TRIGGERS, ENTITY_TYPES, DEFAULT_UNREGISTERED };
