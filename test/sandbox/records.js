'use strict';

// CRM records behind POST /v1/{deals|leads|contacts|companies|quotes|invoices}/search:
// seeded data, the `$contains` / equality filter, order, limit/offset and the meta block.

const { fail } = require('./auth');

/** Path segment → entity type, as the gateway names them. */
const PLURALS = Object.freeze({
  deals: 'deal',
  leads: 'lead',
  contacts: 'contact',
  companies: 'company',
  quotes: 'quote',
  invoices: 'invoice',
});

const MAX_LIMIT = 5000;
const DEFAULT_LIMIT = 50;
const OPERATORS = ['$contains', '$gt', '$gte', '$lt', '$lte', '$ne', '$in'];

/** 150 deals (5001–5150, three pages of 50), a few named ones among them, one without a title. */
function seedDeals() {
  const named = {
    5041: 'Acme rollout',
    5042: 'Acme support renewal',
    5077: 'Globex pilot',
    5100: 'ACME training',
    5150: 'Initech licences',
  };
  const deals = [];
  for (let id = 5001; id <= 5150; id++) {
    deals.push({ id, title: id === 5013 ? '' : named[id] || `Order ${id}`, stageId: 'NEW', amount: id % 7 * 100 });
  }
  return deals;
}

function seedRecords() {
  return {
    deal: seedDeals(),
    lead: [
      { id: 301, title: 'Website enquiry: Acme' },
      { id: 302, title: 'Trade fair lead' },
      { id: 303, title: null },
    ],
    contact: [
      { id: 11, name: 'Anna', lastName: 'Smirnova' },
      { id: 12, name: 'Ivan', lastName: 'Annenkov' },
      { id: 13, name: 'Hanna', lastName: 'Annenkova' },
      { id: 14, name: 'Boris', lastName: 'Petrov' },
      { id: 15, name: '', lastName: 'Orlova' },
      { id: 16, name: null, lastName: null },
    ],
    company: [
      { id: 21, title: 'Acme Corp' },
      { id: 22, title: 'Globex' },
    ],
    quote: [
      { id: 7, title: 'Quote for Acme rollout' },
      { id: 8, title: 'Quote for Globex' },
    ],
    invoice: [
      { id: 41, title: 'Invoice 2026-041 Acme' },
      { id: 42, title: 'Invoice 2026-042 Globex' },
    ],
  };
}

function copyRecords(entityType, list) {
  if (!Object.values(PLURALS).includes(entityType)) throw new TypeError(`unknown entity type ${entityType}`);
  if (!Array.isArray(list)) throw new TypeError('records must be an array of objects with a numeric id');
  return list.map((r) => {
    if (!r || typeof r !== 'object' || !Number.isSafeInteger(r.id)) throw new TypeError('each record needs a numeric id');
    return { ...r };
  });
}

const text = (v) => (v === undefined || v === null ? '' : String(v));

/** One condition of the filter: a plain value is equality, an object holds `$op`s (AND). */
function matches(record, field, condition) {
  const value = record[field];
  if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) {
    return text(value) === text(condition);
  }
  return Object.entries(condition).every(([op, arg]) => {
    switch (op) {
      case '$contains':
        return text(value).toLowerCase().includes(text(arg).toLowerCase());
      case '$ne':
        return text(value) !== text(arg);
      case '$in':
        return Array.isArray(arg) && arg.map(text).includes(text(value));
      case '$gt':
        return Number(value) > Number(arg);
      case '$gte':
        return Number(value) >= Number(arg);
      case '$lt':
        return Number(value) < Number(arg);
      default:
        return Number(value) <= Number(arg);
    }
  });
}

function badOperator(filter) {
  for (const condition of Object.values(filter)) {
    if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
      const bad = Object.keys(condition).find((op) => !OPERATORS.includes(op));
      if (bad) return bad;
    }
  }
  return undefined;
}

function compare(a, b, field) {
  const x = a[field];
  const y = b[field];
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return text(x).localeCompare(text(y));
}

/**
 * Answers a search body { filter, select, order, limit, offset }. Like the real gateway,
 * unknown body fields are ignored and `meta.hasMore` is wrongly true on the exact last page.
 */
function searchRecords(records, body) {
  if (body.tooLarge) return fail(413, 'PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB');
  if (body.jsonError) {
    return fail(400, 'INVALID_JSON', 'Request body is not valid JSON', 'Send a JSON object with Content-Type: application/json.');
  }
  const obj = body.json && typeof body.json === 'object' && !Array.isArray(body.json) ? body.json : {};
  const filter = obj.filter && typeof obj.filter === 'object' && !Array.isArray(obj.filter) ? obj.filter : {};
  const bad = badOperator(filter);
  if (bad) {
    return fail(400, 'INVALID_FILTER_OPERATOR', `Unknown filter operator "${bad}"`,
      `Supported operators: ${OPERATORS.join(', ')}.`);
  }
  const limit = obj.limit === undefined ? DEFAULT_LIMIT : Number(obj.limit);
  const offset = obj.offset === undefined ? 0 : Number(obj.offset);
  if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
    return fail(400, 'INVALID_PARAMS', 'limit must be a positive integer and offset a non-negative integer');
  }
  const found = records.filter((r) => Object.entries(filter).every(([field, c]) => matches(r, field, c)));
  const order = obj.order && typeof obj.order === 'object' ? Object.entries(obj.order) : [['id', 'asc']];
  found.sort((a, b) => {
    for (const [field, direction] of order) {
      const d = compare(a, b, field) * (String(direction).toLowerCase() === 'desc' ? -1 : 1);
      if (d !== 0) return d;
    }
    return 0;
  });
  const take = Math.min(limit, MAX_LIMIT);
  const page = found.slice(offset, offset + take);
  const select = Array.isArray(obj.select) ? obj.select : typeof obj.select === 'string' ? obj.select.split(',') : null;
  const data = page.map((r) => (select ? Object.fromEntries(select.map((f) => [f.trim(), r[f.trim()]])) : { ...r }));
  const end = offset + page.length;
  // Like the real API, a full last page still says hasMore (it judges by the page being full):
  // clients must go by total.
  const hasMore = end < found.length || (page.length > 0 && page.length === take);
  return { status: 200, body: { success: true, data, meta: { total: found.length, hasMore } } };
}

module.exports = { PLURALS, seedRecords, copyRecords, searchRecords };
