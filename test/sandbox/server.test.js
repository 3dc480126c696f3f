/// <reference types="jest" />
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startSandbox, SEEDED, DEFAULT_TRIGGERS } = require('./server');
const { whatItDid } = require('./pipelines');
const { fakeDateOnly } = require('../harness/system');

/** @typedef {import('./server').Sandbox} Sandbox */
/** @typedef {import('./server').SandboxOptions} SandboxOptions */

/**
 * @typedef {object} CallOptions
 * @property {string} [method]
 * @property {string | null} [key] null sends no X-Api-Key at all. Default: the personal key.
 * @property {string} [bearer]
 * @property {string} [authorization]
 * @property {unknown} [body]
 * @property {string} [rawBody]
 * @property {AbortSignal} [signal]
 */

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {Headers} headers
 * @property {string} text
 * @property {any} json
 * @property {number} ms
 */

const FIRE = { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' };
const APP = { key: SEEDED.app, bearer: SEEDED.session };

/**
 * @param {Sandbox} sb
 * @param {string} urlPath
 * @param {CallOptions} [opts]
 * @returns {Promise<Answer>}
 */
async function call(sb, urlPath, opts = {}) {
  const headers = {};
  if (opts.key !== null) headers['X-Api-Key'] = opts.key ?? SEEDED.personal;
  if (opts.bearer !== undefined) headers.Authorization = `Bearer ${opts.bearer}`;
  if (opts.authorization !== undefined) headers.Authorization = opts.authorization;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const started = Date.now();
  const res = await fetch(sb.url + urlPath, {
    method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    signal: opts.signal,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
}

/**
 * @param {Sandbox} sb
 * @param {unknown} [body]
 * @param {CallOptions} [opts]
 */
const fire = (sb, body = FIRE, opts = {}) =>
  call(sb, '/v1/triggers/fire', { method: 'POST', body, ...opts });

const last = (list) => list[list.length - 1];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} RawResult
 * @property {string} data
 * @property {boolean} closed
 * @property {string} [error]
 */

/**
 * Raw HTTP over a socket: shows exactly what the server sent before the connection ended.
 * @param {Sandbox} sb
 * @param {string} head
 * @param {Array<{ afterMs: number, data: string }>} [bodyParts]
 * @returns {Promise<RawResult>}
 */
function raw(sb, head, bodyParts = []) {
  return new Promise((resolve) => {
    const socket = net.connect(sb.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      data += d;
    });
    socket.on('error', (e) => resolve({ data, closed: true, error: e.code }));
    socket.on('close', () => resolve({ data, closed: true }));
    socket.write(head);
    for (const part of bodyParts) {
      setTimeout(() => {
        if (!socket.destroyed) socket.write(part.data);
      }, part.afterMs);
    }
  });
}

function rawFireHead(contentLength, key = SEEDED.personal) {
  return 'POST /v1/triggers/fire HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n'
    + `X-Api-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`;
}

/**
 * @param {SandboxOptions} [options]
 * @returns {() => Sandbox}
 */
function withSandbox(options = { rateLimit: false }) {
  /** @type {Sandbox} */
  let sb;
  beforeAll(async () => {
    sb = await startSandbox(options);
  });
  afterAll(() => sb.close());
  beforeEach(() => sb.reset());
  return () => sb;
}

/**
 * @param {Answer} a
 * @param {number} status
 * @param {string} code
 */
function expectError(a, status, code) {
  expect(a.status).toBe(status);
  expect(a.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(a.json).toMatchObject({ success: false, error: { code, message: expect.any(String) } });
}

describe('auth', () => {
  const sb = withSandbox();

  test('no X-Api-Key → 401 MISSING_API_KEY', async () => {
    expectError(await call(sb(), '/v1/me', { key: null }), 401, 'MISSING_API_KEY');
    expectError(await call(sb(), '/v1/me', { key: '' }), 401, 'MISSING_API_KEY');
  });

  test('unknown or expired key → 401 INVALID_API_KEY with the Russian message', async () => {
    for (const key of ['vibe_api_nope', SEEDED.expired, 'garbage']) {
      const a = await fire(sb(), FIRE, { key });
      expectError(a, 401, 'INVALID_API_KEY');
      expect(a.json.error.message).toBe('Недействительный или просроченный API-ключ');
      expect(a.json.error.hint).toEqual(expect.any(String));
    }
    expect(sb().fires).toHaveLength(0);
  });

  test('app key without a usable Bearer → 401 TOKEN_MISSING', async () => {
    for (const authorization of [undefined, '', 'Bearer ', 'Bearer', 'Basic dXNlcjpwYXNz']) {
      const a = await call(sb(), '/v1/triggers', { key: SEEDED.app, authorization });
      expectError(a, 401, 'TOKEN_MISSING');
      expect(a.json.error.message).toMatch(/Authorization: Bearer/);
    }
    expectError(await call(sb(), '/v1/me', { key: SEEDED.app }), 401, 'TOKEN_MISSING');
    expectError(await fire(sb(), FIRE, { key: SEEDED.app }), 401, 'TOKEN_MISSING');
  });

  test('app key with an expired or unknown session → 401 TOKEN_EXPIRED pointing to /v1/oauth/authorize', async () => {
    for (const bearer of [SEEDED.expiredSession, 'vibe_session_unknown']) {
      const a = await call(sb(), '/v1/triggers', { key: SEEDED.app, bearer });
      expectError(a, 401, 'TOKEN_EXPIRED');
      expect(a.json.error.hint).toMatch('/v1/oauth/authorize');
    }
  });

  test('management key → 403 MANAGEMENT_KEY_NO_ENTITY_ACCESS on triggers, but /v1/me works', async () => {
    expectError(await call(sb(), '/v1/triggers', { key: SEEDED.management }), 403, 'MANAGEMENT_KEY_NO_ENTITY_ACCESS');
    expectError(await fire(sb(), FIRE, { key: SEEDED.management }), 403, 'MANAGEMENT_KEY_NO_ENTITY_ACCESS');
    const me = await call(sb(), '/v1/me', { key: SEEDED.management });
    expect(me.json.data).toMatchObject({ keyType: 'management', scopes: [] });
  });

  test('key without crm scope → 403 SCOPE_DENIED', async () => {
    expectError(await fire(sb(), FIRE, { key: SEEDED.noScope }), 403, 'SCOPE_DENIED');
    expectError(await call(sb(), '/v1/triggers', { key: SEEDED.noScope }), 403, 'SCOPE_DENIED');
  });

  test('read-only key → 403 WRITE_BLOCKED_READONLY_KEY on POST, reads still allowed', async () => {
    expectError(await fire(sb(), FIRE, { key: SEEDED.readOnly }), 403, 'WRITE_BLOCKED_READONLY_KEY');
    const me = await call(sb(), '/v1/me', { key: SEEDED.readOnly });
    expect(me.json.data.accessMode).toBe('readonly');
    expect(sb().fires).toHaveLength(0);
  });

  test('addKey and addSession extend the key table', async () => {
    sb().addKey('vibe_app_extra', { id: 'extra-app' });
    sb().addSession('vibe_session_extra');
    sb().addKey('vibe_api_gone', { expired: true });
    expect((await fire(sb(), FIRE, { key: 'vibe_app_extra', bearer: 'vibe_session_extra' })).status).toBe(200);
    expect(sb().fires[0].apiKeyId).toBe('extra-app');
    expectError(await call(sb(), '/v1/me', { key: 'vibe_api_gone' }), 401, 'INVALID_API_KEY');
    expect(() => sb().addKey('no_prefix')).toThrow(TypeError);
  });
});

describe('endpoints', () => {
  const sb = withSandbox();

  test('GET /v1/me describes the key', async () => {
    const personal = await call(sb(), '/v1/me');
    expect(personal.status).toBe(200);
    expect(personal.json).toEqual({
      success: true,
      data: {
        keyType: 'personal', scopes: ['crm', 'user'], portal: 'sandbox.bitrix24.com', accessMode: 'full',
        user: expect.objectContaining({ id: expect.any(Number) }),
      },
    });
    const app = await call(sb(), '/v1/me', APP);
    expect(app.json.data).toMatchObject({ keyType: 'application', accessMode: 'full' });
  });

  test('GET /v1/triggers: app key + session lists triggers; personal key gets BITRIX_ACCESS_DENIED', async () => {
    const list = await call(sb(), '/v1/triggers', APP);
    expect(list.status).toBe(200);
    expect(list.json).toEqual({ success: true, data: DEFAULT_TRIGGERS });
    const personal = await call(sb(), '/v1/triggers');
    expectError(personal, 403, 'BITRIX_ACCESS_DENIED');
    expect(personal.json.error.message).toBe('Access denied! Application context required');
    expect(personal.json.error.hint).toEqual(expect.any(String));
  });

  test('setTriggers changes the list', async () => {
    sb().setTriggers([{ NAME: 'Only', CODE: 'only' }]);
    expect((await call(sb(), '/v1/triggers', APP)).json.data).toEqual([{ NAME: 'Only', CODE: 'only' }]);
    sb().setTriggers([...DEFAULT_TRIGGERS]);
  });

  test('POST /v1/triggers/fire accepts and records, even for a trigger nobody listens to', async () => {
    const before = Date.now();
    const a = await fire(sb());
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ success: true, data: true });
    // A personal key's codes are not checked against the list; an application's registered code is accepted.
    await fire(sb(), { entityType: 'lead', entityId: '77', triggerId: 'nobody.listens' });
    await fire(sb(), { entityType: 'contact', entityId: 12, triggerId: 'delivery_confirmed' }, APP);
    // Each says what the automation did: deal 5141 moved to the trigger's stage; nothing listens to the lead's code; a contact has no stage.
    expect(sb().fires).toEqual([
      { ...FIRE, apiKeyId: 'personal', at: expect.any(Number), moved: true, stageBefore: 'NEW', stageAfter: 'EXECUTING' },
      {
        entityType: 'lead', entityId: '77', triggerId: 'nobody.listens', apiKeyId: 'personal', at: expect.any(Number),
        moved: false, stageBefore: 'NEW', stageAfter: 'NEW',
      },
      { entityType: 'contact', entityId: 12, triggerId: 'delivery_confirmed', apiKeyId: 'app', at: expect.any(Number), moved: null },
    ]);
    expect(sb().fires[0].at).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(sb().fires)).not.toContain('vibe_');
  });

  test('missing or empty fields → 400 MISSING_PARAMS naming the field', async () => {
    for (const field of ['entityType', 'entityId', 'triggerId']) {
      const without = { ...FIRE };
      delete without[field];
      for (const body of [without, { ...FIRE, [field]: '' }, { ...FIRE, [field]: null }]) {
        const a = await fire(sb(), body);
        expectError(a, 400, 'MISSING_PARAMS');
        expect(a.json.error.message).toContain(field);
      }
    }
    for (const rawBody of ['', '[]', '{}']) expectError(await fire(sb(), undefined, { rawBody }), 400, 'MISSING_PARAMS');
    expect(sb().fires).toHaveLength(0);
  });

  test('unknown entity type → 400 INVALID_ENTITY_TYPE with the documented message', async () => {
    const a = await fire(sb(), { ...FIRE, entityType: 'banana' });
    expectError(a, 400, 'INVALID_ENTITY_TYPE');
    expect(a.json.error.message).toBe('Unknown entityType "banana". Supported: deal, lead, contact, company, quote, invoice');
    for (const entityType of ['deal', 'lead', 'contact', 'company', 'quote', 'invoice']) {
      expect((await fire(sb(), { ...FIRE, entityType })).status).toBe(200);
    }
  });

  test('non-JSON body → 400 INVALID_JSON', async () => {
    expectError(await fire(sb(), undefined, { rawBody: 'entityType=deal' }), 400, 'INVALID_JSON');
  });

  test('unknown path → 404 NOT_FOUND, wrong method → 405', async () => {
    expectError(await call(sb(), '/v1/deals'), 404, 'NOT_FOUND');
    expectError(await call(sb(), '/v1/triggers/fire'), 405, 'METHOD_NOT_ALLOWED');
  });

  test('requests log: redacted headers, auth scheme, body, status and timing', async () => {
    const a = await fire(sb(), FIRE, APP);
    const [entry] = sb().requests;
    expect(entry).toMatchObject({
      method: 'POST', path: '/v1/triggers/fire', status: 200, apiKeyId: 'app', hasAuthorization: true,
      authScheme: 'Bearer', body: FIRE, fault: null, applied: false, fired: true,
    });
    expect(entry.headers['x-api-key']).toBe('<redacted>');
    expect(entry.headers.authorization).toBe('<redacted>');
    expect(JSON.stringify(entry)).not.toContain('vibe_');
    expect(entry.endAt).toBeGreaterThanOrEqual(entry.at);
    expect(a.headers.get('x-request-id')).toBe(String(entry.id));
  });

  test('latency is added before every answer', async () => {
    sb().setLatency(120);
    try {
      expect((await call(sb(), '/v1/me', { key: null })).ms).toBeGreaterThanOrEqual(110);
      expect((await call(sb(), '/v1/me')).ms).toBeGreaterThanOrEqual(110);
    } finally {
      sb().setLatency(0);
    }
  });

  test('keeps up with many concurrent requests', async () => {
    const total = 1000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const id = ++next;
        const a = await fire(sb(), { ...FIRE, entityId: id });
        expect(a.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    expect(sb().fires).toHaveLength(total);
    expect(new Set(sb().fires.map((f) => f.entityId)).size).toBe(total);
  });
});

describe('CRM record search (POST /v1/{plural}/search)', () => {
  const sb = withSandbox();
  const search = (plural, body, opts = {}) =>
    call(sb(), `/v1/${plural}/search`, { method: 'POST', body, ...opts });
  const ids = (a) => a.json.data.map((r) => r.id);

  test('every CRM entity has a search endpoint with seeded records', async () => {
    for (const plural of ['deals', 'leads', 'contacts', 'companies', 'quotes', 'invoices']) {
      const a = await search(plural, {});
      expect(a.status).toBe(200);
      expect(a.json).toMatchObject({ success: true, meta: { total: expect.any(Number), hasMore: expect.any(Boolean) } });
      expect(a.json.data.length).toBeGreaterThan(0);
    }
    expectError(await call(sb(), '/v1/deals/search'), 405, 'METHOD_NOT_ALLOWED');
    expectError(await search('tasks', {}), 404, 'NOT_FOUND');
  });

  test('limit, offset and order by id desc page through 150 deals; hasMore is wrongly true on a full last page', async () => {
    const page = (offset) => search('deals', { order: { id: 'desc' }, limit: 50, offset, select: ['id', 'title'] });
    const first = await page(0);
    expect(first.json.meta).toEqual({ total: 150, hasMore: true });
    expect(ids(first)[0]).toBe(5150);
    expect(first.json.data[0]).toEqual({ id: 5150, title: 'Initech licences' });
    const third = await page(100);
    expect(ids(third)).toHaveLength(50);
    expect(ids(third)[49]).toBe(5001);
    // The real API sometimes does this: clients must stop by total, not by hasMore.
    expect(third.json.meta).toEqual({ total: 150, hasMore: true });
    const beyond = await page(150);
    expect(beyond.json).toMatchObject({ data: [], meta: { total: 150, hasMore: false } });
    const all = [...ids(first), ...ids(await page(50)), ...ids(third)];
    expect(new Set(all).size).toBe(150);
    // Default order: id ascending; default limit 50.
    expect(ids(await search('deals', {})).slice(0, 2)).toEqual([5001, 5002]);
    expect(ids(await search('deals', {}))).toHaveLength(50);
  });

  test('$contains is case-insensitive; a partial last page says hasMore false', async () => {
    const acme = await search('deals', { filter: { title: { $contains: 'acme' } }, order: { id: 'desc' } });
    expect(acme.json.data.map((r) => r.title)).toEqual(['ACME training', 'Acme support renewal', 'Acme rollout']);
    expect(acme.json.meta).toEqual({ total: 3, hasMore: false });
    const byName = await search('contacts', { filter: { name: { $contains: 'ANN' } } });
    expect(ids(byName)).toEqual([11, 13]);
    const byLastName = await search('contacts', { filter: { lastName: { $contains: 'ann' } } });
    expect(ids(byLastName)).toEqual([12, 13]);
    expect(ids(await search('deals', { filter: { id: 5041 } }))).toEqual([5041]);
    expect((await search('deals', { filter: { title: { $contains: 'nothing like this' } } })).json.meta).toEqual({ total: 0, hasMore: false });
  });

  test('bad filters and bodies are refused', async () => {
    expectError(await search('deals', { filter: { title: { $like: 'x' } } }), 400, 'INVALID_FILTER_OPERATOR');
    expectError(await search('deals', { limit: 0 }), 400, 'INVALID_PARAMS');
    expectError(await search('deals', { offset: -1 }), 400, 'INVALID_PARAMS');
    expectError(await search('deals', undefined, { rawBody: 'title=x' }), 400, 'INVALID_JSON');
  });

  test('the same auth and scope errors as the other endpoints; read-only keys may search', async () => {
    expectError(await search('deals', {}, { key: null }), 401, 'MISSING_API_KEY');
    expectError(await search('deals', {}, { key: SEEDED.expired }), 401, 'INVALID_API_KEY');
    expectError(await search('deals', {}, { key: SEEDED.app }), 401, 'TOKEN_MISSING');
    expectError(await search('deals', {}, { key: SEEDED.app, bearer: SEEDED.expiredSession }), 401, 'TOKEN_EXPIRED');
    expectError(await search('deals', {}, { key: SEEDED.management }), 403, 'MANAGEMENT_KEY_NO_ENTITY_ACCESS');
    expectError(await search('deals', {}, { key: SEEDED.noScope }), 403, 'SCOPE_DENIED');
    expect((await search('deals', {}, { key: SEEDED.readOnly })).status).toBe(200);
    expect((await search('deals', {}, APP)).status).toBe(200);
  });

  test('setRecords replaces one entity type\'s records', async () => {
    sb().setRecords('lead', [{ id: 1, title: 'Only lead' }]);
    // With its stage: every lead has one.
    expect((await search('leads', {})).json.data).toEqual([{ id: 1, title: 'Only lead', statusId: 'NEW' }]);
    expect(() => sb().setRecords('lead', [{ title: 'no id' }])).toThrow(TypeError);
  });
});

describe('records that do not exist', () => {
  const sb = withSandbox();
  afterEach(() => sb().restoreRecords());
  const IGNORED = { ...FIRE, apiKeyId: 'personal', at: expect.any(Number), reason: 'no such record' };

  test('by default every positive whole ID of every type exists, seeded or not', async () => {
    for (const entityType of ['deal', 'lead', 'contact', 'company', 'quote', 'invoice']) {
      expect(sb().recordExists(entityType, 987654)).toBe(true);
      expect((await fire(sb(), { ...FIRE, entityType, entityId: 987654 })).status).toBe(200);
    }
    expect(sb().fires).toHaveLength(6);
    expect(sb().ignoredFires).toEqual([]);
    expect(sb().recordExists('deal', '5141')).toBe(true);
    for (const id of [0, -3, 1.5, 'abc', '', '12x', null, undefined, Number.MAX_SAFE_INTEGER + 2]) {
      expect(sb().recordExists('deal', id)).toBe(false);
    }
    expect(sb().recordExists('banana', 1)).toBe(false);
  });

  test('a fire for a removed record is answered like a success but ignored: nothing in fires', async () => {
    sb().removeRecord('deal', 5141);
    expect(sb().recordExists('deal', 5141)).toBe(false);
    expect(sb().recordExists('deal', '5141')).toBe(false);
    expect(sb().recordExists('lead', 5141)).toBe(true);
    const a = await fire(sb());
    expect([a.status, a.json]).toEqual([200, { success: true, data: true }]);
    await fire(sb(), { ...FIRE, entityId: '5141' }, APP);
    await fire(sb(), { ...FIRE, entityType: 'lead' });
    expect(sb().fires).toEqual([{ ...FIRE, entityType: 'lead', apiKeyId: 'personal', at: expect.any(Number), moved: true, stageBefore: 'NEW', stageAfter: 'PROCESSED' }]);
    expect(sb().ignoredFires).toEqual([IGNORED, { ...IGNORED, entityId: '5141', apiKeyId: 'app' }]);
    expect(sb().ignoredFires[0].at).toBeGreaterThanOrEqual(sb().requests[0].at);
    // Still in the request log, answered 200, not fired.
    expect(sb().requests.map((e) => [e.status, e.fired, e.body])).toEqual([
      [200, false, FIRE], [200, false, { ...FIRE, entityId: '5141' }], [200, true, { ...FIRE, entityType: 'lead' }],
    ]);
  });

  test('IDs that no record can have are ignored the same way', async () => {
    for (const entityId of [0, -3, 1.5, 'abc', '12x', true]) {
      const a = await fire(sb(), { ...FIRE, entityId });
      expect([a.status, a.json]).toEqual([200, { success: true, data: true }]);
    }
    expect(sb().fires).toEqual([]);
    expect(sb().ignoredFires.map((f) => f.entityId)).toEqual([0, -3, 1.5, 'abc', '12x', true]);
  });

  test('reset() clears ignoredFires but keeps removals; restoreRecords() brings every record back', async () => {
    sb().removeRecord('deal', 5141);
    sb().removeRecord('contact', '12');
    await fire(sb());
    sb().reset();
    expect(sb().ignoredFires).toEqual([]);
    expect(sb().missingRecords).toEqual([{ entityType: 'deal', id: 5141 }, { entityType: 'contact', id: 12 }]);
    await fire(sb());
    expect([sb().fires.length, sb().ignoredFires.length]).toEqual([0, 1]);
    sb().restoreRecords();
    expect(sb().missingRecords).toEqual([]);
    await fire(sb());
    expect([sb().fires.length, sb().ignoredFires.length]).toEqual([1, 1]);
  });

  test('removeRecord refuses what is not a record; the missingRecords option removes at start', async () => {
    expect(() => sb().removeRecord('banana', 1)).toThrow(TypeError);
    for (const id of [0, -1, 1.5, 'abc', '', null, undefined]) expect(() => sb().removeRecord('deal', id)).toThrow(TypeError);
    const own = await startSandbox({
      rateLimit: false,
      missingRecords: [{ entityType: 'lead', id: 301 }, { entityType: 'deal', id: '5141' }],
    });
    try {
      expect(own.missingRecords).toEqual([{ entityType: 'deal', id: 5141 }, { entityType: 'lead', id: 301 }]);
      await fire(own);
      expect([own.fires.length, own.ignoredFires.length]).toEqual([0, 1]);
      const leads = await call(own, '/v1/leads/search', { body: {} });
      expect(leads.json.data.map((r) => r.id)).toEqual([302, 303]);
    } finally {
      await own.close();
    }
    await expect(startSandbox({ missingRecords: [{ entityType: 'deal', id: 0 }] })).rejects.toThrow(TypeError);
  });

  test('cutOff(key): a dead process — what it sent stays applied, its later requests and the answers it waits for hang unapplied; other keys go on', async () => {
    const dead = 'vibe_api_cut_test';
    sb().addKey(dead);
    sb().setLatency(300);
    try {
      // Applied on arrival, answered after the latency: the process dies meanwhile.
      const inFlight = fire(sb(), { ...FIRE, entityId: 1 }, { key: dead }).then(() => 'answered', () => 'gone');
      while (sb().fires.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      sb().cutOff(dead);
      const later = fire(sb(), { ...FIRE, entityId: 2 }, { key: dead }).then(() => 'answered', () => 'gone');
      const timeout = new Promise((resolve) => setTimeout(resolve, 800, 'hanging'));
      expect(await Promise.race([inFlight, timeout])).toBe('hanging');
      expect(await Promise.race([later, timeout])).toBe('hanging');
      expect(sb().fires.map((f) => f.entityId)).toEqual([1]);
      sb().setLatency(0);
      expect((await fire(sb(), { ...FIRE, entityId: 3 })).status).toBe(200);
      sb().reset();
      const afterReset = fire(sb(), { ...FIRE, entityId: 4 }, { key: dead }).then(() => 'answered', () => 'gone');
      expect(await Promise.race([afterReset, new Promise((resolve) => setTimeout(resolve, 300, 'hanging'))])).toBe('hanging');
      expect(() => sb().cutOff('vibe_api_nobody')).toThrow(TypeError);
    } finally {
      sb().setLatency(0);
    }
  });

  test('an ignored fire behind an applied fault is not applied', async () => {
    sb().removeRecord('deal', 5141);
    sb().injectFault({ kind: 'json502', apply: true });
    expect((await fire(sb())).status).toBe(502);
    expect(sb().fires).toEqual([]);
    expect(sb().ignoredFires).toEqual([IGNORED]);
    expect(sb().requests[0]).toMatchObject({ fault: 'json502', applied: false, fired: false });
  });
});

describe('search by id (POST /v1/{plural}/search)', () => {
  const sb = withSandbox();
  afterEach(() => sb().restoreRecords());
  const search = (plural, body) => call(sb(), `/v1/${plural}/search`, { method: 'POST', body });
  const ids = (a) => a.json.data.map((r) => r.id);

  test('$in finds the existing records among the IDs: seeded with their data, others as { id } and their stage', async () => {
    sb().removeRecord('deal', 5042);
    const a = await search('deals', { filter: { id: { $in: [999999, 5041, 5042, '12345', 0, 'x', -1, 5041, 1.5] } } });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({
      success: true,
      data: [
        { id: 5041, title: 'Acme rollout', stageId: 'NEW', amount: 5041 % 7 * 100 },
        { id: 12345, stageId: 'NEW' },
        { id: 999999, stageId: 'NEW' },
      ],
      meta: { total: 3, hasMore: false },
    });
    expect((await search('deals', { filter: { id: { $in: [] } } })).json).toMatchObject({ data: [], meta: { total: 0 } });
    expect((await search('deals', { filter: { id: { $in: 5041 } } })).json).toMatchObject({ data: [], meta: { total: 0 } });
  });

  test('select: seeded fields as they are, an unseeded record gets \'\' for its title fields, its stage, and nothing it cannot know', async () => {
    const deals = await search('deals', { filter: { id: { $in: [5013, 5150, 77] } }, select: ['id', 'title', 'stageId'] });
    expect(deals.json.data).toEqual([
      { id: 77, title: '', stageId: 'NEW' },
      { id: 5013, title: '', stageId: 'NEW' },
      { id: 5150, title: 'Initech licences', stageId: 'NEW' },
    ]);
    const contacts = await search('contacts', { filter: { id: { $in: [11, 500] } }, select: 'id,name,lastName' });
    expect(contacts.json.data).toEqual([
      { id: 11, name: 'Anna', lastName: 'Smirnova' },
      { id: 500, name: '', lastName: '' },
    ]);
    const only = await search('companies', { filter: { id: { $in: [21, 99] } }, select: ['id'] });
    expect(only.json.data).toEqual([{ id: 21 }, { id: 99 }]);
  });

  test('equality: { id: 5 } and { id: \'5041\' }; a removed or impossible ID finds nothing', async () => {
    expect((await search('companies', { filter: { id: 5 } })).json).toEqual({
      success: true, data: [{ id: 5 }], meta: { total: 1, hasMore: false },
    });
    expect((await search('deals', { filter: { id: '5041' }, select: ['id', 'title'] })).json.data).toEqual([
      { id: 5041, title: 'Acme rollout' },
    ]);
    sb().removeRecord('company', 5);
    for (const id of [5, 0, 'abc', null]) {
      expect((await search('companies', { filter: { id } })).json).toMatchObject({ data: [], meta: { total: 0, hasMore: false } });
    }
  });

  test('the other conditions still apply to the IDs named', async () => {
    const acme = await search('deals', { filter: { id: { $in: [5041, 5042, 5100, 777, 5001] }, title: { $contains: 'acme' } } });
    expect(ids(acme)).toEqual([5041, 5042, 5100]);
    const notThat = await search('deals', { filter: { id: { $in: [5041, 5042, 777], $ne: 5042 } } });
    expect(ids(notThat)).toEqual([777, 5041]);
    const below = await search('deals', { filter: { id: { $in: [3, 5041, 9000], $lt: 5100 } } });
    expect(ids(below)).toEqual([3, 5041]);
    expectError(await search('deals', { filter: { id: { $in: [1], $like: 2 } } }), 400, 'INVALID_FILTER_OPERATOR');
  });

  test('limit, offset, order and meta.total over the IDs named', async () => {
    const named = Array.from({ length: 60 }, (_, i) => 9001 + i);
    const first = await search('deals', { filter: { id: { $in: named } }, order: { id: 'desc' }, limit: 50, select: ['id'] });
    expect(first.json.meta).toEqual({ total: 60, hasMore: true });
    expect(ids(first)).toEqual(named.slice(10).reverse());
    const second = await search('deals', { filter: { id: { $in: named } }, order: { id: 'desc' }, limit: 50, offset: 50 });
    expect(second.json.meta).toEqual({ total: 60, hasMore: false });
    expect(ids(second)).toEqual(named.slice(0, 10).reverse());
    // Exactly 50 IDs on one page of 50: hasMore is wrongly true, as for any full last page.
    const fifty = await search('deals', { filter: { id: { $in: named.slice(0, 50) } }, limit: 50 });
    expect(fifty.json.meta).toEqual({ total: 50, hasMore: true });
  });

  test('ranges and searches without an id condition run over the seeded records that still exist', async () => {
    expect(ids(await search('deals', { filter: { id: { $gte: 5149 } } }))).toEqual([5149, 5150]);
    expect(ids(await search('deals', { filter: { id: { $ne: 5001 } }, limit: 2 }))).toEqual([5002, 5003]);
    sb().removeRecord('deal', 5150);
    sb().removeRecord('deal', 5100);
    const latest = await search('deals', { order: { id: 'desc' }, limit: 1 });
    expect([ids(latest), latest.json.meta.total]).toEqual([[5149], 148]);
    const acme = await search('deals', { filter: { title: { $contains: 'acme' } } });
    expect(ids(acme)).toEqual([5041, 5042]);
  });
});

describe('unregistered trigger codes', () => {
  const sb = withSandbox();

  test('an application firing a code it did not register → 422 BITRIX_ERROR, nothing applied', async () => {
    const a = await fire(sb(), { ...FIRE, triggerId: 'Payment_Received' }, APP);
    expect(a.status).toBe(422);
    expect(a.json).toEqual({
      success: false,
      error: { code: 'BITRIX_ERROR', message: 'Trigger with code Payment_Received is not registered.' },
    });
    // The code as sent, even when it is not a string.
    expect((await fire(sb(), { ...FIRE, triggerId: 42 }, APP)).json.error.message).toBe('Trigger with code 42 is not registered.');
    expect(sb().fires).toEqual([]);
    expect(sb().ignoredFires).toEqual([]);
    expect(sb().requests.map((e) => [e.status, e.fired])).toEqual([[422, false], [422, false]]);
  });

  test('the refusal comes before the record check; registered codes and personal keys are accepted', async () => {
    sb().removeRecord('deal', 5141);
    try {
      expect((await fire(sb(), { ...FIRE, triggerId: 'nope' }, APP)).status).toBe(422);
      expect((await fire(sb(), FIRE, APP)).status).toBe(200);
      expect(sb().ignoredFires).toHaveLength(1);
    } finally {
      sb().restoreRecords();
    }
    for (const triggerId of DEFAULT_TRIGGERS.map((t) => t.CODE)) {
      expect((await fire(sb(), { ...FIRE, triggerId }, APP)).status).toBe(200);
    }
    expect((await fire(sb(), { ...FIRE, triggerId: 'nope' })).status).toBe(200);
    expect(sb().fires.map((f) => [f.triggerId, f.apiKeyId])).toEqual([
      ['payment_received', 'app'], ['delivery_confirmed', 'app'], ['contract.signed-v2', 'app'], ['nope', 'personal'],
    ]);
  });

  test('the application\'s triggers are the list setTriggers sets', async () => {
    sb().setTriggers([{ NAME: 'Only', CODE: 'only' }]);
    try {
      expect((await fire(sb(), FIRE, APP)).status).toBe(422);
      expect((await fire(sb(), { ...FIRE, triggerId: 'only' }, APP)).status).toBe(200);
    } finally {
      sb().setTriggers([...DEFAULT_TRIGGERS]);
    }
  });

  test('behind an applied fault an unregistered code is still not applied', async () => {
    sb().injectFault({ kind: 'json502', apply: true });
    expect((await fire(sb(), { ...FIRE, triggerId: 'nope' }, APP)).status).toBe(502);
    expect(sb().fires).toEqual([]);
    expect(sb().requests[0]).toMatchObject({ applied: false, fired: false });
  });

  test('status and code are configurable: unregisteredCode option and setUnregisteredCode', async () => {
    const own = await startSandbox({ rateLimit: false, unregisteredCode: { status: 400 } });
    try {
      const a = await fire(own, { ...FIRE, triggerId: 'nope' }, APP);
      expect([a.status, a.json.error]).toEqual([400, { code: 'BITRIX_ERROR', message: 'Trigger with code nope is not registered.' }]);
      own.setUnregisteredCode({ status: 400, code: 'ERROR_CORE' });
      expectError(await fire(own, { ...FIRE, triggerId: 'nope' }, APP), 400, 'ERROR_CORE');
      own.setUnregisteredCode({});
      expectError(await fire(own, { ...FIRE, triggerId: 'nope' }, APP), 422, 'BITRIX_ERROR');
    } finally {
      await own.close();
    }
    for (const bad of [null, { status: 200 }, { status: 600 }, { status: '422' }, { code: '' }, { code: 5 }]) {
      expect(() => sb().setUnregisteredCode(bad)).toThrow(TypeError);
    }
    await expect(startSandbox({ unregisteredCode: { status: 99 } })).rejects.toThrow(TypeError);
  });
});

describe('rate limit (5 per 500 ms)', () => {
  const sb = withSandbox({ rateLimit: { limit: 5, windowMs: 500 } });

  test('sixth request → 429 RATE_LIMITED with Retry-After, headers on every answer', async () => {
    for (let i = 0; i < 5; i++) {
      const a = await call(sb(), '/v1/me');
      expect(a.status).toBe(200);
      expect(a.headers.get('x-ratelimit-limit')).toBe('5');
      expect(a.headers.get('x-ratelimit-remaining')).toBe(String(4 - i));
    }
    const first = sb().requests[0];
    const refused = await fire(sb());
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({
      success: false,
      error: { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', hint: expect.stringMatching(/^Wait 1-2 seconds/), retryAfter: 1 },
    });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('x-ratelimit-reset-ms'))).toBe(first.at + 500);
    expect(Number(refused.headers.get('x-ratelimit-reset'))).toBe(Math.ceil((first.at + 500) / 1000));
    expect(sb().fires).toHaveLength(0);
    // Other keys have their own window.
    expect((await call(sb(), '/v1/me', APP)).status).toBe(200);
  });

  test('refused requests do not count; the window recovers', async () => {
    for (let i = 0; i < 5; i++) expect((await call(sb(), '/v1/me')).status).toBe(200);
    // The window has room for five again once the fifth of them left it (on a busy machine
    // they may be spread over a while).
    const windowEnd = sb().requests[4].at + 500;
    await sleep(200);
    for (let i = 0; i < 3; i++) expect((await call(sb(), '/v1/me')).status).toBe(429);
    await sleep(windowEnd - Date.now() + 20);
    // Had the three 429s counted, they would still fill 3 of the 5 slots.
    for (let i = 0; i < 5; i++) expect((await call(sb(), '/v1/me')).status).toBe(200);
    expect((await call(sb(), '/v1/me')).status).toBe(429);
    const statuses = sb().requests.map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 200, 200, 200, 200, 200, 429]);
  });

  test('requests failing auth are not counted; 403s and faulted requests are', async () => {
    for (let i = 0; i < 6; i++) expect((await call(sb(), '/v1/me', { key: SEEDED.app })).status).toBe(401);
    expect((await call(sb(), '/v1/triggers')).status).toBe(403);
    sb().injectFault({ kind: 'json502' });
    const faulted = await call(sb(), '/v1/me');
    expect(faulted.status).toBe(502);
    expect(faulted.headers.get('x-ratelimit-remaining')).toBe('3');
  });

  test('per-key limit override and switching limits off', async () => {
    sb().addKey('vibe_api_tight', { limit: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(sb(), '/v1/me', { key: 'vibe_api_tight' })).status);
    expect(statuses).toEqual([200, 200, 429]);
    sb().setRateLimit(false);
    try {
      for (let i = 0; i < 8; i++) {
        const a = await call(sb(), '/v1/me');
        expect(a.status).toBe(200);
        expect(a.headers.get('x-ratelimit-limit')).toBeNull();
      }
    } finally {
      sb().setRateLimit({ limit: 5, windowMs: 500 });
    }
  });
});

describe('faults', () => {
  const sb = withSandbox();

  test('html502: nginx HTML page', async () => {
    sb().injectFault({ kind: 'html502' });
    const a = await call(sb(), '/v1/me');
    expect(a.status).toBe(502);
    expect(a.headers.get('content-type')).toMatch(/^text\/html/);
    expect(a.text).toContain('<title>502 Bad Gateway</title>');
    expect((await call(sb(), '/v1/me')).status).toBe(200);
  });

  test('json502, timeout504, successFalse, billing402 envelopes', async () => {
    sb().injectFault({ kind: 'json502' });
    expectError(await call(sb(), '/v1/me'), 502, 'BITRIX_UNAVAILABLE');

    sb().injectFault({ kind: 'timeout504' });
    const t = await call(sb(), '/v1/me');
    expectError(t, 504, 'QUEUE_TIMEOUT');
    expect(t.json.error.retryAfter).toBe(2);
    expect(t.headers.get('retry-after')).toBe('2');

    sb().injectFault({ kind: 'successFalse' });
    expectError(await call(sb(), '/v1/me'), 200, 'INTERNAL_ERROR');

    sb().injectFault({ kind: 'billing402' });
    const b = await call(sb(), '/v1/me');
    expectError(b, 402, 'PAYMENT_REQUIRED');
    expect(b.json.error.userMessage).toMatch(/^Недостаточно кредитов/);
    expect(b.json.error.message).toMatch(/credit/);
  });

  test('malformed: truncated JSON; empty: no body', async () => {
    sb().injectFault({ kind: 'malformed' });
    const m = await call(sb(), '/v1/me');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/^application\/json/);
    expect(m.text).toBe('{"success":tr');

    sb().injectFault({ kind: 'empty' });
    const e = await call(sb(), '/v1/me');
    expect([e.status, e.text, e.headers.get('content-length')]).toEqual([200, '', '0']);
    sb().injectFault({ kind: 'empty', status: 500 });
    expect((await call(sb(), '/v1/me')).status).toBe(500);
  });

  test('error: any status and body, Retry-After mirrored from body', async () => {
    const body = { success: false, error: { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', retryAfter: 3 } };
    sb().injectFault({ kind: 'error', status: 429, body });
    const a = await call(sb(), '/v1/me');
    expect([a.status, a.json, a.headers.get('retry-after')]).toEqual([429, body, '3']);
  });

  test('a fault header given as null is left out: a 429 whose wait is only in the body', async () => {
    const body = { success: false, error: { code: 'RATE_LIMITED', message: 'QUERY_LIMIT_EXCEEDED', retryAfter: 2 } };
    sb().injectFault({ kind: 'error', status: 429, body, headers: { 'retry-after': null } });
    const a = await call(sb(), '/v1/me');
    expect([a.status, a.json, a.headers.has('retry-after')]).toEqual([429, body, false]);
  });

  test('resetBeforeBody: connection dropped once headers arrive, body never read', async () => {
    sb().injectFault({ kind: 'resetBeforeBody' });
    const body = JSON.stringify(FIRE);
    // Headers only; the body would follow later but the server must not wait for it.
    const r = await raw(sb(), rawFireHead(body.length), [{ afterMs: 300, data: body }]);
    expect(r).toMatchObject({ data: '', closed: true });
    sb().injectFault({ kind: 'resetBeforeBody', apply: true });
    await expect(fire(sb())).rejects.toThrow();
    expect(sb().fires).toHaveLength(0);
    expect(sb().requests.map((e) => [e.fault, e.status, e.body, e.applied])).toEqual([
      ['resetBeforeBody', null, null, false],
      ['resetBeforeBody', null, null, false],
    ]);
  });

  test('resetAfterBody: waits for the whole body, then drops the connection', async () => {
    sb().injectFault({ kind: 'resetAfterBody' });
    const body = JSON.stringify(FIRE);
    const started = Date.now();
    const r = await raw(sb(), rawFireHead(body.length), [{ afterMs: 150, data: body }]);
    expect(r).toMatchObject({ data: '', closed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(sb().requests[0]).toMatchObject({ fault: 'resetAfterBody', status: null, body: FIRE, fired: false });
    expect(sb().fires).toHaveLength(0);
  });

  test('apply: the fire is recorded, then the fault happens (ambiguous write)', async () => {
    sb().injectFault({ kind: 'resetAfterBody', apply: true });
    await expect(fire(sb())).rejects.toThrow();
    sb().injectFault({ kind: 'json502', apply: true });
    expect((await fire(sb())).status).toBe(502);
    sb().injectFault({ kind: 'html502', apply: false });
    expect((await fire(sb())).status).toBe(502);
    sb().injectFault({ kind: 'timeout504', apply: true });
    expect((await fire(sb(), { ...FIRE, entityType: 'banana' })).status).toBe(504);
    expect(sb().fires).toHaveLength(2);
    expect(sb().requests.map((e) => [e.fault, e.applied])).toEqual([
      ['resetAfterBody', true], ['json502', true], ['html502', false], ['timeout504', false],
    ]);
  });

  test('slow: answers normally after delayMs', async () => {
    sb().injectFault({ kind: 'slow', delayMs: 150 });
    const a = await fire(sb());
    expect(a.status).toBe(200);
    expect(a.ms).toBeGreaterThanOrEqual(140);
    expect(sb().fires).toHaveLength(1);
    expect(sb().fires[0].at - sb().requests[0].at).toBeGreaterThanOrEqual(140);
  });

  test('slow: a client that gives up gets nothing fired unless apply', async () => {
    sb().injectFault({ kind: 'slow', delayMs: 200 });
    await expect(fire(sb(), FIRE, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    sb().injectFault({ kind: 'slow', delayMs: -1, apply: true });
    await expect(fire(sb(), FIRE, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await sleep(250);
    expect(sb().fires).toHaveLength(1);
    expect(sb().requests.map((e) => [e.fault, e.status, e.applied])).toEqual([['slow', null, false], ['slow', null, true]]);
  });

  test('match and times select which requests are hit', async () => {
    sb().injectFault({ kind: 'json502', times: 2, match: { method: 'post', path: '/v1/triggers/fire', triggerId: 'b' } });
    expect((await call(sb(), '/v1/me')).status).toBe(200);
    expect((await fire(sb(), { ...FIRE, triggerId: 'a' })).status).toBe(200);
    expect((await fire(sb(), { ...FIRE, triggerId: 'b' })).status).toBe(502);
    expect(sb().pendingFaults).toHaveLength(1);
    expect((await fire(sb(), { ...FIRE, triggerId: 'b' })).status).toBe(502);
    expect((await fire(sb(), { ...FIRE, triggerId: 'b' })).status).toBe(200);
    expect(sb().pendingFaults).toHaveLength(0);
  });

  test('invalid faults are rejected', () => {
    expect(() => sb().injectFault({ kind: 'nope' })).toThrow(/unknown fault kind/);
    expect(() => sb().injectFault({ kind: 'resetBeforeBody', match: { triggerId: 'x' } })).toThrow(TypeError);
    expect(() => sb().injectFault({ kind: 'html502', times: 0 })).toThrow(TypeError);
  });

  test('random faults are deterministic for a seed', async () => {
    const run = async (seed) => {
      sb().reset();
      sb().setRandomFaults({ seed, rate: 0.5, kinds: ['json502', 'html502', 'resetAfterBody', 'malformed'], apply: 0.5 });
      for (let i = 1; i <= 40; i++) await fire(sb(), { ...FIRE, entityId: i }).catch(() => undefined);
      return sb().requests.map((e) => `${e.fault}:${e.applied}`);
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(await run(7)).not.toEqual(a);
    const faulted = a.filter((s) => !s.startsWith('null'));
    expect(faulted.length).toBeGreaterThan(5);
    expect(faulted.length).toBeLessThan(35);
    // Every fire is either unfaulted or an applied fault.
    expect(sb().fires).toHaveLength(sb().requests.filter((e) => e.fired).length);
    sb().setRandomFaults(null);
    sb().setRandomFaults({ seed: 1, rate: 0 });
    await fire(sb());
    expect(last(sb().requests).fault).toBeNull();
  });

  test('close() ends hung requests and idle keep-alive sockets', async () => {
    const own = await startSandbox({ rateLimit: false });
    own.injectFault({ kind: 'slow', delayMs: -1, match: { path: '/v1/triggers/fire' } });
    const hung = fire(own).then(() => 'answered', () => 'rejected');
    // A keep-alive connection that got its answer and now sits idle.
    const idle = net.connect(own.port, '127.0.0.1');
    idle.on('error', () => undefined);
    let answered = '';
    idle.on('data', (d) => {
      answered += d.toString();
    });
    idle.write('GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: vibe_api_sandbox_personal\r\n\r\n');
    await sleep(100);
    expect(answered).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(idle.destroyed).toBe(false);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await hung).toBe('rejected');
    expect(idle.destroyed || idle.readableEnded).toBe(true);
    expect(own.requests.every((e) => e.endAt !== null)).toBe(true);
  });
});

describe('control API over HTTP', () => {
  const sb = withSandbox({ rateLimit: { limit: 3, windowMs: 60000 } });
  const control = async (method, route, body) => {
    const res = await fetch(`${sb().url}/__sandbox/${route}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    return { status: res.status, json };
  };

  test('fires, requests, faults, reset', async () => {
    expect((await control('POST', 'faults', { kind: 'json502', match: { path: '/v1/me' } })).status).toBe(200);
    expect((await control('GET', 'faults')).json.data).toHaveLength(1);
    expect((await call(sb(), '/v1/me')).status).toBe(502);
    await fire(sb());
    expect((await control('GET', 'fires')).json.data).toEqual([
      { ...FIRE, apiKeyId: 'personal', at: expect.any(Number), moved: true, stageBefore: 'NEW', stageAfter: 'EXECUTING' },
    ]);
    const requests = (await control('GET', 'requests')).json.data;
    expect(requests.map((e) => e.path)).toEqual(['/v1/me', '/v1/triggers/fire']);
    // Control calls are neither logged nor rate limited.
    for (let i = 0; i < 5; i++) await control('GET', 'fires');
    expect(sb().requests).toHaveLength(2);
    expect((await control('POST', 'reset')).json).toEqual({ success: true, data: true });
    expect(sb().fires).toHaveLength(0);
    expect((await control('POST', 'faults', { kind: 'banana' })).status).toBe(400);
    expect((await control('GET', 'nope')).status).toBe(404);
  });

  test('rate-limit, latency, triggers, random-faults, keys', async () => {
    await control('POST', 'rate-limit', false);
    for (let i = 0; i < 5; i++) expect((await call(sb(), '/v1/me')).status).toBe(200);
    await control('POST', 'rate-limit', { limit: 1, windowMs: 60000 });
    await call(sb(), '/v1/me');
    expect((await call(sb(), '/v1/me')).status).toBe(429);
    expect((await control('POST', 'rate-limit', {})).status).toBe(400);
    await control('POST', 'rate-limit', false);

    await control('POST', 'latency', { ms: 100 });
    expect((await call(sb(), '/v1/me')).ms).toBeGreaterThanOrEqual(90);
    await control('POST', 'latency', { ms: 0 });

    await control('POST', 'records', { entityType: 'company', records: [{ id: 5, title: 'Umbrella' }] });
    expect((await call(sb(), '/v1/companies/search', { body: {} })).json.data).toEqual([{ id: 5, title: 'Umbrella' }]);

    await control('POST', 'triggers', [{ NAME: 'X', CODE: 'x' }]);
    expect((await call(sb(), '/v1/triggers', APP)).json.data).toEqual([{ NAME: 'X', CODE: 'x' }]);

    await control('POST', 'random-faults', { seed: 3, rate: 1, kinds: ['successFalse'] });
    expect((await call(sb(), '/v1/me')).json.error.code).toBe('INTERNAL_ERROR');
    await control('POST', 'random-faults', null);

    expect((await control('POST', 'keys', { key: 'vibe_api_http', id: 'http' })).json.data).toEqual({ id: 'http', type: 'personal' });
    await fire(sb(), FIRE, { key: 'vibe_api_http' });
    expect(last(sb().fires).apiKeyId).toBe('http');
  });
  test('ignored-fires, missing-records, restore-records, unregistered-code', async () => {
    const removed = await control('POST', 'missing-records', [{ entityType: 'deal', id: 5141 }, { entityType: 'lead', id: '3' }]);
    expect(removed.json.data).toEqual([{ entityType: 'deal', id: 5141 }, { entityType: 'lead', id: 3 }]);
    await control('POST', 'missing-records', { entityType: 'quote', id: 7 });
    expect((await control('GET', 'missing-records')).json.data).toHaveLength(3);
    expect((await control('POST', 'missing-records', { entityType: 'deal', id: 0 })).status).toBe(400);
    await fire(sb());
    expect((await control('GET', 'ignored-fires')).json.data).toEqual([
      { ...FIRE, apiKeyId: 'personal', at: expect.any(Number), reason: 'no such record' },
    ]);
    expect((await control('POST', 'restore-records')).json).toEqual({ success: true, data: true });
    expect((await control('GET', 'missing-records')).json.data).toEqual([]);
    await control('POST', 'reset');
    expect((await control('GET', 'ignored-fires')).json.data).toEqual([]);

    await control('POST', 'unregistered-code', { status: 400, code: 'ERROR_CORE' });
    expectError(await fire(sb(), { ...FIRE, triggerId: 'nope' }, APP), 400, 'ERROR_CORE');
    expect((await control('POST', 'unregistered-code', { status: 'x' })).status).toBe(400);
    await control('POST', 'unregistered-code', {});
    expectError(await fire(sb(), { ...FIRE, triggerId: 'nope' }, APP), 422, 'BITRIX_ERROR');
  });
});

/** Starts cli.js with `args`: what it printed on stdout (one JSON line), its stderr so far, and its exit code to come. */
async function startCli(args) {
  const child = spawn(process.execPath, [path.join(__dirname, 'cli.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(d.toString())));
  return { child, info: JSON.parse(line), stderr: () => stderr, exited };
}

describe('cli.js', () => {
  test('prints one JSON line, serves, stops on SIGTERM', async () => {
    const { child, info, stderr, exited } = await startCli(['--limit', '2']);
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.keys).toEqual(SEEDED);
    const res = await fetch(`${info.url}/v1/me`, { headers: { 'X-Api-Key': SEEDED.personal } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBe('2');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toContain(SEEDED.personal);
  });
});

// Only Date is faked: the sandbox's clock (as the key's limiter and the portal use it) stands still until the
// test moves it, while sockets and timers run as usual. T0 is on a whole minute.
const T0 = Date.UTC(2025, 0, 1, 12);
const useClock = () => fakeDateOnly(T0);
const at = (ms) => jest.setSystemTime(T0 + ms);

describe('what X-RateLimit-Reset holds (rateLimit.reset), 3 per minute', () => {
  const sb = withSandbox({ rateLimit: false });
  beforeEach(() => useClock());
  afterEach(() => jest.useRealTimers());
  const epochS = (ms) => String((T0 + ms) / 1000);
  const epochMs = (ms) => String(T0 + ms);

  // Requests at these times after T0, each: [at, status, Remaining, Reset, Reset-Ms, Retry-After].
  test.each([
    ['oldest', 'a sliding window; Reset when its oldest request leaves it', [
      [30_000, 200, '2', epochS(90_000), epochMs(90_000), null],
      [40_000, 200, '1', epochS(90_000), epochMs(90_000), null],
      [50_000, 200, '0', epochS(90_000), epochMs(90_000), null],
      [55_000, 429, '0', epochS(90_000), epochMs(90_000), '35'],
      [60_000, 429, '0', epochS(90_000), epochMs(90_000), '30'],
      [90_000, 200, '0', epochS(100_000), epochMs(100_000), null],
    ]],
    ['window', 'fixed windows on whole minutes, counted afresh; Reset at the end of the current one', [
      [30_000, 200, '2', epochS(60_000), epochMs(60_000), null],
      [40_000, 200, '1', epochS(60_000), epochMs(60_000), null],
      [50_000, 200, '0', epochS(60_000), epochMs(60_000), null],
      [55_000, 429, '0', epochS(60_000), epochMs(60_000), '5'],
      [60_000, 200, '2', epochS(120_000), epochMs(120_000), null],
      [90_000, 200, '1', epochS(120_000), epochMs(120_000), null],
    ]],
    ['zero', 'a sliding window; Reset 0 while it has room, else the seconds until its oldest request leaves', [
      [30_000, 200, '2', '0', '0', null],
      [40_000, 200, '1', '0', '0', null],
      [50_000, 200, '0', '40', '40000', null],
      [55_000, 429, '0', '35', '35000', '35'],
      [60_000, 429, '0', '30', '30000', '30'],
      [90_000, 200, '0', '10', '10000', null],
    ]],
  ])('%s: %s', async (reset, _what, steps) => {
    sb().setRateLimit({ limit: 3, windowMs: 60_000, reset });
    const seen = [];
    for (const [ms] of steps) {
      at(ms);
      const { status, headers } = await call(sb(), '/v1/me');
      seen.push([ms, status, ...['remaining', 'reset', 'reset-ms'].map((h) => headers.get(`x-ratelimit-${h}`)), headers.get('retry-after')]);
    }
    expect(seen).toEqual(steps);
  });

  test('an unknown reading is refused, by startSandbox, setRateLimit, the control API and cli.js', async () => {
    await expect(startSandbox({ rateLimit: { limit: 3, windowMs: 60_000, reset: 'end' } })).rejects.toThrow(/rateLimit.reset must be one of oldest, window, zero/);
    expect(() => sb().setRateLimit({ limit: 3, windowMs: 60_000, reset: 'end' })).toThrow(TypeError);
    const res = await fetch(`${sb().url}/__sandbox/rate-limit`, { method: 'POST', body: JSON.stringify({ limit: 3, windowMs: 60_000, reset: 'end' }) });
    expect(res.status).toBe(400);
    jest.useRealTimers();
    const child = spawn(process.execPath, [path.join(__dirname, 'cli.js'), '--reset', 'end'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
    expect(stderr).toContain('--reset must be one of oldest, window, zero');
  });

  test('the control API and cli.js --reset set the reading', async () => {
    const res = await fetch(`${sb().url}/__sandbox/rate-limit`, { method: 'POST', body: JSON.stringify({ limit: 3, windowMs: 60_000, reset: 'zero' }) });
    expect(res.status).toBe(200);
    expect((await call(sb(), '/v1/me')).headers.get('x-ratelimit-reset')).toBe('0');
    jest.useRealTimers();
    const { child, info, stderr, exited } = await startCli(['--limit', '2', '--reset', 'zero']);
    const answer = await fetch(`${info.url}/v1/me`, { headers: { 'X-Api-Key': SEEDED.personal } });
    expect(answer.headers.get('x-ratelimit-reset')).toBe('0');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toContain('Reset zero');
  });
});

describe('portal (one leaky bucket behind every key)', () => {
  const sb = withSandbox({ rateLimit: { limit: 100, windowMs: 60000 }, portal: { drainPerSecond: 2, burst: 3 } });
  const JSON502 = {
    success: false,
    error: {
      code: 'BITRIX_UNAVAILABLE', message: 'Портал Bitrix24 недоступен',
      hint: 'The Bitrix24 portal did not answer the gateway. Retry later.',
    },
  };
  beforeEach(() => useClock());
  afterEach(() => jest.useRealTimers());

  test('burst, then 502 BITRIX_UNAVAILABLE (the json502 body, limit headers kept, not applied); drains at 2/s, never above the burst', async () => {
    for (let i = 0; i < 3; i++) expect((await fire(sb(), { ...FIRE, entityId: 1 + i })).status).toBe(200);
    const refused = await fire(sb(), { ...FIRE, entityId: 4 });
    expect(refused.status).toBe(502);
    expect(refused.json).toEqual(JSON502);
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(refused.headers.get('x-ratelimit-limit')).toBe('100');
    // The key's limit counted it: it passed the gateway.
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('96');
    expect(refused.headers.get('x-ratelimit-reset-ms')).toBe(String(T0 + 60000));
    expect(sb().fires.map((f) => f.entityId)).toEqual([1, 2, 3]);
    expect(sb().portalRefusals).toBe(1);
    expect(last(sb().requests)).toMatchObject({ status: 502, fired: false, applied: false, fault: null, portalRefused: true });
    expect(sb().requests.slice(0, 3).map((r) => r.portalRefused)).toEqual([false, false, false]);
    expect(sb().portal).toEqual({ drainPerSecond: 2, burst: 3, level: 3 });

    // 499 ms: 0.998 drained, not room for one; 500 ms: exactly one.
    at(499);
    expect((await fire(sb(), { ...FIRE, entityId: 5 })).status).toBe(502);
    at(500);
    expect((await fire(sb(), { ...FIRE, entityId: 6 })).status).toBe(200);
    expect((await fire(sb(), { ...FIRE, entityId: 7 })).status).toBe(502);
    expect(sb().portalRefusals).toBe(3);

    // A long quiet spell empties the bucket, but it holds no more than the burst.
    at(60_000);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fire(sb(), { ...FIRE, entityId: 10 + i })).status);
    expect(statuses).toEqual([200, 200, 200, 502]);
    expect(sb().fires.map((f) => f.entityId)).toEqual([1, 2, 3, 6, 10, 11, 12]);
    expect(sb().requests.filter((r) => r.portalRefused).map((r) => [r.status, r.fired])).toEqual(Array(4).fill([502, false]));
  });

  test('one bucket for every key; searches and the trigger list fill it too', async () => {
    sb().addKey('vibe_api_portal_other', { limit: 50 });
    expect((await fire(sb())).status).toBe(200);
    expect((await call(sb(), '/v1/deals/search', { key: 'vibe_api_portal_other', body: { filter: { id: 5001 } } })).status).toBe(200);
    expect((await call(sb(), '/v1/triggers', APP)).status).toBe(200);
    const other = await fire(sb(), FIRE, { key: 'vibe_api_portal_other' });
    expect(other.status).toBe(502);
    expect(other.headers.get('x-ratelimit-limit')).toBe('50');
    expect(other.headers.get('x-ratelimit-remaining')).toBe('48');
    expectError(await call(sb(), '/v1/deals/search', { body: {} }), 502, 'BITRIX_UNAVAILABLE');
    expectError(await call(sb(), '/v1/triggers', APP), 502, 'BITRIX_UNAVAILABLE');
    expect(sb().portalRefusals).toBe(3);
    expect(sb().fires).toHaveLength(1);
  });

  test('what never reaches the portal: /v1/me, 401, 429, 403, the gateway\'s 400s, injected faults', async () => {
    sb().addKey('vibe_api_portal_tight', { limit: 1 });
    expect((await call(sb(), '/v1/me')).status).toBe(200);
    expect((await fire(sb(), FIRE, { key: SEEDED.expired })).status).toBe(401);
    expect((await fire(sb(), FIRE, { key: 'vibe_api_portal_tight' })).status).toBe(200);
    expect((await fire(sb(), FIRE, { key: 'vibe_api_portal_tight' })).status).toBe(429);
    expect((await fire(sb(), FIRE, { key: SEEDED.readOnly })).status).toBe(403);
    expect((await call(sb(), '/v1/triggers', { key: SEEDED.management })).status).toBe(403);
    expect((await fire(sb(), { entityType: 'deal' })).status).toBe(400);
    expect((await call(sb(), '/v1/deals/search', { body: { filter: { id: { $like: 1 } } } })).status).toBe(400);
    for (const kind of ['json502', 'html502', 'timeout504', 'billing402']) {
      sb().injectFault({ kind });
      expect((await fire(sb())).status).not.toBe(200);
    }
    expect(sb().portal.level).toBe(1);
    // Bitrix24's own answers do reach it: "Application context required" for a personal key's trigger list
    // (a 403 from Bitrix24, not from the gateway), an unregistered code, a record that does not exist.
    expectError(await call(sb(), '/v1/triggers'), 403, 'BITRIX_ACCESS_DENIED');
    sb().removeRecord('deal', 404);
    try {
      expect(sb().portal.level).toBe(2);
      expectError(await fire(sb(), { ...FIRE, triggerId: 'nope' }, APP), 422, 'BITRIX_ERROR');
      expect(sb().portal.level).toBe(3);
      expectError(await fire(sb(), { ...FIRE, entityId: 404 }), 502, 'BITRIX_UNAVAILABLE');
      expect(sb().portalRefusals).toBe(1);
      at(500);
      expect((await fire(sb(), { ...FIRE, entityId: 404 })).status).toBe(200);
      expect(sb().portal.level).toBe(3);
      expect(sb().ignoredFires).toHaveLength(1);
      expect(sb().fires).toHaveLength(1);
    } finally {
      sb().restoreRecords();
    }
  });

  test('an `apply` fault on a full portal: the fault\'s answer, nothing applied; a `slow` fault reaches the portal when it answers', async () => {
    for (let i = 0; i < 3; i++) await fire(sb(), { ...FIRE, entityId: 1 + i });
    sb().injectFault({ kind: 'timeout504', apply: true });
    const a = await fire(sb(), { ...FIRE, entityId: 9 });
    expectError(a, 504, 'QUEUE_TIMEOUT');
    expect(last(sb().requests)).toMatchObject({ fault: 'timeout504', applied: false, fired: false, portalRefused: true });
    sb().injectFault({ kind: 'slow', delayMs: 20 });
    expectError(await fire(sb(), { ...FIRE, entityId: 10 }), 502, 'BITRIX_UNAVAILABLE');
    expect(sb().fires).toHaveLength(3);
    expect(sb().portalRefusals).toBe(2);
  });

  test('reset() empties the bucket and the count; setPortal(false) turns it off, a new config starts empty; bad configs throw', async () => {
    for (let i = 0; i < 4; i++) await fire(sb());
    expect(sb().portalRefusals).toBe(1);
    sb().reset();
    expect(sb().portalRefusals).toBe(0);
    expect(sb().portal.level).toBe(0);
    try {
      sb().setPortal(false);
      expect(sb().portal).toBeNull();
      for (let i = 0; i < 10; i++) expect((await fire(sb())).status).toBe(200);
      expect(sb().portalRefusals).toBe(0);
      sb().setPortal({ drainPerSecond: 5, burst: 1 });
      expect((await fire(sb())).status).toBe(200);
      expect((await fire(sb())).status).toBe(502);
      at(200);
      expect((await fire(sb())).status).toBe(200);
    } finally {
      sb().setPortal({ drainPerSecond: 2, burst: 3 });
    }
    for (const bad of [{}, { drainPerSecond: 0, burst: 5 }, { drainPerSecond: 2, burst: 0 }, { drainPerSecond: 2, burst: 1.5 },
      { drainPerSecond: '2', burst: 5 }, 5]) {
      expect(() => sb().setPortal(/** @type {any} */ (bad))).toThrow(TypeError);
    }
    await expect(startSandbox({ portal: { drainPerSecond: -1, burst: 5 } })).rejects.toThrow(TypeError);
  });
});

describe('X-RateLimit-* on every answer while a limit is set', () => {
  const sb = withSandbox({ rateLimit: { limit: 30, windowMs: 60000 }, portal: { drainPerSecond: 0.001, burst: 1 } });

  test('200, 429, the portal\'s 502, every answering fault kind, 401/403/400/404/405', async () => {
    sb().addKey('vibe_api_headers_one', { limit: 1 });
    const answers = {};
    answers.ok = await fire(sb());
    answers.portal502 = await fire(sb());
    await fire(sb(), FIRE, { key: 'vibe_api_headers_one' });
    answers.limited = await fire(sb(), FIRE, { key: 'vibe_api_headers_one' });
    for (const kind of ['html502', 'json502', 'timeout504', 'malformed', 'empty', 'successFalse', 'billing402', 'error', 'slow']) {
      sb().injectFault({ kind, delayMs: kind === 'slow' ? 10 : undefined });
      answers[kind] = await call(sb(), '/v1/me');
    }
    answers.unauthorized = await call(sb(), '/v1/me', { key: SEEDED.expired });
    answers.forbidden = await call(sb(), '/v1/triggers');
    answers.badRequest = await fire(sb(), {});
    answers.notFound = await call(sb(), '/v1/nope');
    answers.notAllowed = await call(sb(), '/v1/me', { method: 'DELETE' });
    expect(answers.ok.status).toBe(200);
    expect(answers.portal502.status).toBe(502);
    expect(answers.limited.status).toBe(429);
    const missing = Object.entries(answers)
      .filter(([, a]) => ['limit', 'remaining', 'reset', 'reset-ms'].some((h) => !a.headers.get(`x-ratelimit-${h}`)))
      .map(([name]) => name);
    expect(missing).toEqual([]);
    expect(answers.limited.headers.get('x-ratelimit-limit')).toBe('1');
    expect(answers.portal502.headers.get('x-ratelimit-limit')).toBe('30');
  });
});

describe('control API and cli.js: the portal', () => {
  test('GET/POST /__sandbox/portal; --portal-rate/--portal-burst', async () => {
    const own = await startSandbox({ rateLimit: false });
    try {
      const control = async (method, body) => {
        const res = await fetch(`${own.url}/__sandbox/portal`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: res.status, json: await res.json() };
      };
      expect((await control('GET')).json.data).toEqual({ state: null, refusals: 0 });
      expect((await control('POST', { drainPerSecond: 1, burst: 1 })).json).toEqual({ success: true, data: true });
      expect((await fire(own)).status).toBe(200);
      expect((await fire(own)).status).toBe(502);
      expect((await control('GET')).json.data).toEqual({
        state: { drainPerSecond: 1, burst: 1, level: expect.any(Number) }, refusals: 1,
      });
      expect((await control('POST', { drainPerSecond: 1 })).status).toBe(400);
      await control('POST', false);
      expect((await fire(own)).status).toBe(200);
    } finally {
      await own.close();
    }

    const { child, info, stderr, exited } = await startCli(['--portal-rate', '0.01', '--portal-burst', '2']);
    const { url } = info;
    const post = () => fetch(`${url}/v1/triggers/fire`, {
      method: 'POST', headers: { 'X-Api-Key': SEEDED.personal, 'Content-Type': 'application/json' }, body: JSON.stringify(FIRE),
    }).then((r) => r.status);
    expect([await post(), await post(), await post()]).toEqual([200, 200, 502]);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toContain('portal 0.01/s, burst 2');
  });
});

describe('pipelines: records have stages, a fire moves a record forward to its trigger\'s stage or does nothing', () => {
  const sb = withSandbox();
  afterEach(() => sb().resetAutomation());
  const search = (plural, ids, select) => call(sb(), `/v1/${plural}/search`, { method: 'POST', body: { filter: { id: { $in: ids } }, select } });
  const lastFire = () => last(sb().fires);

  test('every record starts at its pipeline\'s first stage (deal 5143 is seeded in pipeline C1); contacts and companies have none', () => {
    expect(sb().stageOf('deal', 5141)).toBe('NEW');
    expect(sb().stageOf('deal', 777777)).toBe('NEW');
    expect(sb().stageOf('deal', 5143)).toBe('C1:NEW');
    expect(sb().stageOf('lead', 301)).toBe('NEW');
    expect(sb().stageOf('quote', 7)).toBe('DRAFT');
    expect(sb().stageOf('invoice', 41)).toBe('DT31_1:N');
    expect(sb().stageOf('contact', 11)).toBeNull();
    expect(sb().stageOf('company', 21)).toBeNull();
  });

  test('a fire before the trigger\'s stage moves the record there; at it or past it, nothing moves (never back)', async () => {
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    expect(lastFire()).toMatchObject({ moved: true, stageBefore: 'NEW', stageAfter: 'EXECUTING' });
    expect(sb().stageOf('deal', 5141)).toBe('EXECUTING');
    // Again: already at the stage.
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    expect(lastFire()).toMatchObject({ moved: false, stageBefore: 'EXECUTING', stageAfter: 'EXECUTING' });
    // Past it: a won deal is not moved back.
    sb().setStage('deal', 5142, 'WON');
    await fire(sb(), { entityType: 'deal', entityId: 5142, triggerId: 'payment_received' });
    expect(lastFire()).toMatchObject({ moved: false, stageBefore: 'WON', stageAfter: 'WON' });
    expect(sb().stageOf('deal', 5142)).toBe('WON');
  });

  test('a trigger set on one pipeline does not move a deal of another; one set on both moves each within its own', async () => {
    await fire(sb(), { entityType: 'deal', entityId: 5143, triggerId: 'payment_received' });
    expect(lastFire()).toMatchObject({ moved: false, stageBefore: 'C1:NEW', stageAfter: 'C1:NEW' });
    await fire(sb(), { entityType: 'deal', entityId: 5143, triggerId: 'delivery_confirmed' });
    expect(lastFire()).toMatchObject({ moved: true, stageBefore: 'C1:NEW', stageAfter: 'C1:WON' });
    await fire(sb(), { entityType: 'lead', entityId: 301, triggerId: 'contract.signed-v2' });
    expect(lastFire()).toMatchObject({ moved: true, stageBefore: 'NEW', stageAfter: 'IN_PROCESS' });
    await fire(sb(), { entityType: 'company', entityId: 21, triggerId: 'payment_received' });
    expect(lastFire()).toEqual(expect.objectContaining({ moved: null }));
    expect(lastFire()).not.toHaveProperty('stageBefore');
  });

  test('a search selects the stage as it is now (stageId for deals and invoices, statusId for leads and quotes)', async () => {
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    expect((await search('deals', [5141, 5142, 5143], ['id', 'stageId'])).json.data).toEqual([
      { id: 5141, stageId: 'EXECUTING' },
      { id: 5142, stageId: 'NEW' },
      { id: 5143, stageId: 'C1:NEW' },
    ]);
    expect((await search('leads', [301], ['id', 'statusId'])).json.data).toEqual([{ id: 301, statusId: 'NEW' }]);
    expect((await search('quotes', [7], ['id', 'statusId'])).json.data).toEqual([{ id: 7, statusId: 'DRAFT' }]);
    expect((await search('invoices', [41], ['id', 'stageId'])).json.data).toEqual([{ id: 41, stageId: 'DT31_1:N' }]);
  });

  test('setAutomation sets where a trigger moves records; reset() puts every record back at its first stage', async () => {
    sb().setAutomation('payment_received', [{ entityType: 'deal', stage: 'C1:EXECUTING' }]);
    await fire(sb(), { entityType: 'deal', entityId: 5143, triggerId: 'payment_received' });
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    expect(sb().fires.map((f) => f.moved)).toEqual([true, false]);
    expect(sb().stageOf('deal', 5143)).toBe('C1:EXECUTING');
    sb().reset();
    expect(sb().stageOf('deal', 5143)).toBe('C1:NEW');
    expect(() => sb().setStage('deal', 1, 'NOPE')).toThrow(TypeError);
    expect(() => sb().setStage('contact', 1, 'NEW')).toThrow(TypeError);
    expect(() => sb().setAutomation('x', [{ entityType: 'lead', stage: 'WON' }])).toThrow(TypeError);
  });

  test('what npm start prints for a fire says whether the record moved', async () => {
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    await fire(sb(), { entityType: 'deal', entityId: 5143, triggerId: 'payment_received' });
    await fire(sb(), { entityType: 'contact', entityId: 11, triggerId: 'payment_received' });
    expect(sb().fires.map(whatItDid)).toEqual([
      'deal 5141 moved from NEW to EXECUTING',
      'deal 5143 did not move: it stays at C1:NEW (the trigger is not set on its pipeline, or it is at that stage or past it)',
      'contact 11 has no stage (Bitrix24 runs the trigger for its linked deals)',
    ]);
  });

  test('control API: POST /__sandbox/stage reads or sets a stage, /__sandbox/automation reads or sets the rules', async () => {
    const control = async (route, body, method = 'POST') => {
      const res = await fetch(`${sb().url}/__sandbox/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: await res.json() };
    };
    expect((await control('stage', { entityType: 'deal', id: 5142 })).json).toEqual({ success: true, data: 'NEW' });
    expect((await control('stage', { entityType: 'deal', id: 5142, stage: 'WON' })).json).toEqual({ success: true, data: 'WON' });
    expect(sb().stageOf('deal', 5142)).toBe('WON');
    expect((await control('stage', { entityType: 'deal', id: 5142, stage: 'LOST' })).status).toBe(400);
    const set = await control('automation', { payment_received: [] });
    expect(set.json.data.payment_received).toEqual([]);
    await fire(sb(), { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' });
    expect(lastFire().moved).toBe(false);
    await control('automation', null);
    expect((await control('automation', undefined, 'GET')).json.data.payment_received).toContainEqual({ entityType: 'deal', stage: 'EXECUTING' });
  });
});
