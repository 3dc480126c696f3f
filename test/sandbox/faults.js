'use strict';

// Refused before the portal saw the request: a real gateway never applies these first.
const NEVER_APPLIED = new Set(['resetBeforeBody', 'billing402']);

const FAULT_KINDS = Object.freeze([
  'html502', 'json502', 'timeout504', 'resetBeforeBody', 'resetAfterBody',
  'slow', 'malformed', 'empty', 'successFalse', 'billing402', 'error',
]);

// Kinds a load test can draw without extra parameters; `slow` would stall it
// and `error` needs a body.
const DEFAULT_RANDOM_KINDS = Object.freeze([
  'html502', 'json502', 'timeout504', 'resetBeforeBody', 'resetAfterBody',
  'malformed', 'empty', 'successFalse', 'billing402',
]);

const NGINX_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n'
  + '<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

function envelope(code, message, extra) {
  return { success: false, error: { code, message, ...extra } };
}

function normalizeMatch(match) {
  if (match == null) return {};
  if (typeof match !== 'object') throw new TypeError('fault.match must be an object');
  const out = {};
  if (match.method != null) out.method = String(match.method).toUpperCase();
  if (match.path != null) out.path = String(match.path);
  if (match.triggerId != null) out.triggerId = String(match.triggerId);
  if (match.entityId != null) out.entityId = String(match.entityId);
  return out;
}

function normalizeFault(fault) {
  if (!fault || typeof fault !== 'object') throw new TypeError('fault must be an object');
  if (!FAULT_KINDS.includes(fault.kind)) {
    throw new TypeError(`unknown fault kind "${fault.kind}"; known: ${FAULT_KINDS.join(', ')}`);
  }
  const times = fault.times == null ? 1 : fault.times;
  if (!(times === Infinity || (Number.isInteger(times) && times > 0))) {
    throw new TypeError('fault.times must be a positive integer or Infinity');
  }
  const match = normalizeMatch(fault.match);
  // The body is never read for this kind, so it cannot be matched on.
  if (fault.kind === 'resetBeforeBody' && (match.triggerId || match.entityId)) {
    throw new TypeError('resetBeforeBody cannot match on triggerId/entityId: the body is never read');
  }
  const delayMs = fault.delayMs == null ? (fault.kind === 'slow' ? 5000 : 0) : Number(fault.delayMs);
  if (!(delayMs === -1 || delayMs >= 0)) throw new TypeError('fault.delayMs must be >= 0, or -1 (never answer)');
  if (delayMs === -1 && fault.kind !== 'slow') throw new TypeError('delayMs -1 is only meaningful for "slow"');
  return {
    kind: fault.kind,
    times,
    match,
    apply: fault.kind !== 'resetBeforeBody' && fault.apply === true,
    delayMs,
    status: fault.status == null ? undefined : Number(fault.status),
    body: fault.body,
    headers: fault.headers || undefined,
  };
}

function matchesHead(match, method, path) {
  return (!match.method || match.method === method) && (!match.path || match.path === path);
}

function matchesBody(match, json) {
  if (!match.triggerId && !match.entityId) return true;
  if (!json || typeof json !== 'object') return false;
  return (!match.triggerId || String(json.triggerId) === match.triggerId)
    && (!match.entityId || String(json.entityId) === match.entityId);
}

class FaultQueue {
  constructor() {
    this.items = [];
  }

  push(fault) {
    const f = normalizeFault(fault);
    this.items.push(f);
    return f;
  }

  clear() {
    this.items.length = 0;
  }

  /** First queued fault that could apply, judging by method and path only. */
  peekHead(method, path) {
    return this.items.find((f) => matchesHead(f.match, method, path)) || null;
  }

  /** Takes one use of the first fault matching method, path and body. */
  take(method, path, json) {
    const i = this.items.findIndex((f) => matchesHead(f.match, method, path) && matchesBody(f.match, json));
    if (i < 0) return null;
    const f = this.items[i];
    if (--f.times <= 0) this.items.splice(i, 1);
    return f;
  }

  consume(f) {
    if (--f.times <= 0) this.items.splice(this.items.indexOf(f), 1);
  }
}

// Small, fast, seedable PRNG: the same seed gives the same fault sequence.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class RandomFaults {
  constructor(config) {
    const { seed = 1, rate, kinds = DEFAULT_RANDOM_KINDS, apply = false, delayMs, match } = config;
    if (!(rate >= 0 && rate <= 1)) throw new TypeError('random faults: rate must be within 0..1');
    if (!Array.isArray(kinds) || kinds.length === 0) throw new TypeError('random faults: kinds must be a non-empty array');
    if (!(typeof apply === 'boolean' || (apply >= 0 && apply <= 1))) {
      throw new TypeError('random faults: apply must be a boolean or a probability');
    }
    // Validate every kind up front rather than at the first unlucky request.
    this.templates = kinds.map((kind) => normalizeFault({ kind, delayMs: kind === 'slow' ? delayMs : undefined }));
    this.rng = mulberry32(Number(seed));
    this.rate = rate;
    this.apply = apply;
    this.match = normalizeMatch(match);
  }

  /** One roll per counted request, so a seed maps to a fixed sequence. */
  roll(method, path) {
    if (!matchesHead(this.match, method, path)) return null;
    if (this.rng() >= this.rate) return null;
    const t = this.templates[Math.floor(this.rng() * this.templates.length)];
    const apply = typeof this.apply === 'boolean' ? this.apply : this.rng() < this.apply;
    return { ...t, apply: !NEVER_APPLIED.has(t.kind) && apply };
  }
}

/** The answer for kinds that do answer; null for resets and `slow`. */
function renderFault(f) {
  switch (f.kind) {
    case 'html502':
      return { status: 502, contentType: 'text/html', body: NGINX_502, headers: { Server: 'nginx' } };
    case 'json502':
      return {
        status: 502,
        body: envelope('BITRIX_UNAVAILABLE', 'Портал Bitrix24 недоступен', {
          hint: 'The Bitrix24 portal did not answer the gateway. Retry later.',
        }),
      };
    case 'timeout504':
      return {
        status: 504,
        headers: { 'Retry-After': '2' },
        body: envelope('QUEUE_TIMEOUT', 'Request queue timeout', {
          hint: 'The gateway queue timed out; the request may or may not have reached Bitrix24.',
          retryAfter: 2,
        }),
      };
    case 'malformed':
      return { status: 200, body: '{"success":tr' };
    case 'empty':
      return { status: f.status || 200, body: '' };
    case 'successFalse':
      return {
        status: 200,
        body: envelope('INTERNAL_ERROR', 'Внутренняя ошибка сервера', { hint: 'Retry later or contact Vibecode support.' }),
      };
    case 'billing402':
      return {
        status: 402,
        body: envelope('PAYMENT_REQUIRED', 'Insufficient credits: the Vibecode credit budget is exhausted', {
          userMessage: 'Недостаточно кредитов на балансе. Пополните баланс в личном кабинете Vibecode.',
          hint: 'Top up the balance in the Vibecode dashboard.',
        }),
      };
    case 'error': {
      const body = f.body === undefined ? envelope('INTERNAL_ERROR', 'Injected error') : f.body;
      const retryAfter = body && body.error && body.error.retryAfter;
      return {
        status: f.status || 500,
        body,
        // Keep the header in step with the body, as the real 429/504 do.
        headers: Number.isFinite(retryAfter) ? { 'Retry-After': String(retryAfter) } : {},
      };
    }
    default:
      return null;
  }
}

module.exports = {
  FAULT_KINDS, DEFAULT_RANDOM_KINDS, FaultQueue, RandomFaults, mulberry32, normalizeFault, renderFault, envelope,
};
