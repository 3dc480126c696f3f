'use strict';

// What the gateway checks in trigger lists and fire requests.

const { fail } = require('./auth');

const ENTITY_TYPES = ['deal', 'lead', 'contact', 'company', 'quote', 'invoice'];
const FIRE_FIELDS = ['entityType', 'entityId', 'triggerId'];
const DEFAULT_TRIGGERS = Object.freeze([
  { NAME: 'Payment received', CODE: 'payment_received' },
  { NAME: 'Delivery confirmed', CODE: 'delivery_confirmed' },
  { NAME: 'Contract signed', CODE: 'contract.signed-v2' },
]);

function copyTriggers(list) {
  if (!Array.isArray(list)) throw new TypeError('triggers must be an array of { NAME, CODE }');
  return list.map((t) => {
    if (!t || typeof t.NAME !== 'string' || typeof t.CODE !== 'string') {
      throw new TypeError('each trigger needs string NAME and CODE');
    }
    return { NAME: t.NAME, CODE: t.CODE };
  });
}

function isBlank(v) {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

function validateFire(body) {
  if (body.tooLarge) return fail(413, 'PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB');
  if (body.jsonError) {
    return fail(400, 'INVALID_JSON', 'Request body is not valid JSON', 'Send a JSON object with Content-Type: application/json.');
  }
  const obj = body.json && typeof body.json === 'object' && !Array.isArray(body.json) ? body.json : {};
  const missing = FIRE_FIELDS.filter((f) => isBlank(obj[f]));
  if (missing.length > 0) {
    return fail(400, 'MISSING_PARAMS', `Missing required parameter${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      'Required body fields: entityType, entityId, triggerId.');
  }
  if (!ENTITY_TYPES.includes(obj.entityType)) {
    return fail(400, 'INVALID_ENTITY_TYPE', `Unknown entityType "${obj.entityType}". Supported: ${ENTITY_TYPES.join(', ')}`);
  }
  return { fire: { entityType: obj.entityType, entityId: obj.entityId, triggerId: obj.triggerId } };
}

module.exports = { DEFAULT_TRIGGERS, ENTITY_TYPES, copyTriggers, validateFire };
