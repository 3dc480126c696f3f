'use strict';

const { envelope } = require('./faults');

const PORTAL = 'sandbox.bitrix24.com';

const SEEDED = Object.freeze({
  personal: 'vibe_api_sandbox_personal',
  app: 'vibe_app_sandbox_app',
  session: 'vibe_session_sandbox_user',
  expiredSession: 'vibe_session_sandbox_expired',
  expired: 'vibe_api_sandbox_expired',
  management: 'vibe_live_sandbox_mgmt',
  noScope: 'vibe_api_sandbox_noscope',
  readOnly: 'vibe_api_sandbox_readonly',
});

const OWNER = Object.freeze({ id: 1, name: 'Sandbox Admin', email: 'admin@sandbox.bitrix24.com' });
const SESSION_USER = Object.freeze({ id: 7, name: 'Sandbox User', email: 'user@sandbox.bitrix24.com' });

const PREFIX_TYPES = [['vibe_api_', 'personal'], ['vibe_app_', 'app'], ['vibe_live_', 'management']];
const TYPES = ['personal', 'app', 'management'];

function normalizeKeySpec(key, spec = {}) {
  if (typeof key !== 'string' || key === '') throw new TypeError('key must be a non-empty string');
  const byPrefix = PREFIX_TYPES.find(([p]) => key.startsWith(p));
  const type = spec.type || (byPrefix && byPrefix[1]);
  if (!TYPES.includes(type)) throw new TypeError(`key ${key}: type must be one of ${TYPES.join(', ')}`);
  if (spec.limit != null && !(Number.isInteger(spec.limit) && spec.limit > 0)) {
    throw new TypeError(`key ${key}: limit must be a positive integer`);
  }
  return {
    id: String(spec.id || key.replace(/^vibe_(api|app|live)_/, '')),
    type,
    scopes: spec.scopes ? [...spec.scopes] : type === 'management' ? [] : ['crm', 'user'],
    readOnly: Boolean(spec.readOnly),
    expired: Boolean(spec.expired),
    limit: spec.limit || undefined,
    user: spec.user || OWNER,
  };
}

function seededKeys() {
  return new Map([
    [SEEDED.personal, normalizeKeySpec(SEEDED.personal, { id: 'personal' })],
    [SEEDED.app, normalizeKeySpec(SEEDED.app, { id: 'app' })],
    [SEEDED.expired, normalizeKeySpec(SEEDED.expired, { id: 'expired', expired: true })],
    [SEEDED.management, normalizeKeySpec(SEEDED.management, { id: 'management' })],
    [SEEDED.noScope, normalizeKeySpec(SEEDED.noScope, { id: 'noscope', scopes: ['user', 'task'] })],
    [SEEDED.readOnly, normalizeKeySpec(SEEDED.readOnly, { id: 'readonly', readOnly: true })],
  ]);
}

function seededSessions() {
  return new Map([
    [SEEDED.session, { expired: false, user: SESSION_USER }],
    [SEEDED.expiredSession, { expired: true, user: SESSION_USER }],
  ]);
}

const fail = (status, code, message, hint) => ({ status, body: envelope(code, message, hint ? { hint } : {}) });

/** Parses `Authorization` into what the log may keep and the token. */
function parseAuthorization(value) {
  const raw = typeof value === 'string' ? value.trim() : '';
  if (raw === '') return { present: false, scheme: null, token: null };
  const m = /^(\S+)(?:\s+(.*))?$/.exec(raw);
  const scheme = m[1];
  const token = /^bearer$/i.test(scheme) && m[2] ? m[2].trim() : null;
  return { present: true, scheme, token: token || null };
}

/**
 * Authentication only (the 401s). Returns { key, session } or { key?, error }:
 * a key that was recognised but failed (app key without a session) is still
 * returned so the answer can carry that key's rate-limit headers.
 */
function authenticate(headers, keys, sessions) {
  const apiKey = typeof headers['x-api-key'] === 'string' ? headers['x-api-key'].trim() : '';
  if (apiKey === '') {
    return { error: fail(401, 'MISSING_API_KEY', 'Не передан API-ключ: заголовок X-Api-Key обязателен',
      'Send the key in the X-Api-Key header.') };
  }
  const key = keys.get(apiKey);
  if (!key || key.expired) {
    return { error: fail(401, 'INVALID_API_KEY', 'Недействительный или просроченный API-ключ',
      'Check the key in the Vibecode dashboard; it may have been deleted or expired.') };
  }
  if (key.type !== 'app') return { key, session: null };
  const { token } = parseAuthorization(headers.authorization);
  if (!token) {
    return { key, error: fail(401, 'TOKEN_MISSING',
      'The OAuth key has no active user session — Authorization: Bearer is missing',
      'Send the user session token as "Authorization: Bearer <token>"; obtain it via /v1/oauth/authorize.') };
  }
  const session = sessions.get(token);
  if (!session || session.expired) {
    return { key, error: fail(401, 'TOKEN_EXPIRED', 'The user session has expired',
      'Re-authorize the user via /v1/oauth/authorize to get a new session token.') };
  }
  return { key, session };
}

/** Authorization for the CRM endpoints (the 403s that do not depend on the route). */
function authorizeCrm(key, write) {
  if (key.type === 'management') {
    return fail(403, 'MANAGEMENT_KEY_NO_ENTITY_ACCESS', 'Management keys have no access to CRM data',
      'Use a personal (vibe_api_) or OAuth application (vibe_app_) key.');
  }
  if (!key.scopes.includes('crm')) {
    return fail(403, 'SCOPE_DENIED', 'У ключа нет доступа к скоупу crm', 'Enable the crm scope for this key in the Vibecode dashboard.');
  }
  if (write && key.readOnly) {
    return fail(403, 'WRITE_BLOCKED_READONLY_KEY', 'Ключ доступен только для чтения: запись запрещена',
      'Use a key with full access to fire triggers.');
  }
  return null;
}

/** Triggers: every POST (a fire) is a write. */
const authorizeTriggers = (key, method) => authorizeCrm(key, method !== 'GET');

function describeKey(key, session) {
  return {
    keyType: key.type === 'app' ? 'application' : key.type,
    scopes: [...key.scopes],
    portal: PORTAL,
    accessMode: key.readOnly ? 'readonly' : 'full',
    user: { ...(session ? session.user : key.user) },
  };
}

module.exports = {
  SEEDED, PORTAL, seededKeys, seededSessions, normalizeKeySpec, parseAuthorization, authenticate,
  authorizeCrm, authorizeTriggers, describeKey, fail,
};
