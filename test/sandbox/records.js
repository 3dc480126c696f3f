'use strict';

// CRM records behind POST /v1/{deals|leads|contacts|companies|quotes|invoices}/search and the
// fires: which records exist, seeded data, the filter (equality and `$op`s; `id` equality and
// `$in` find any existing record), order, limit/offset and the meta block.

const { fail } = require('./auth');
const { STAGE_FIELDS } = require('./pipelines');

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
/** What an existing record nobody seeded has, when `select` asks for it. */
const UNSEEDED_FIELDS = Object.freeze({
  deal: { title: '' },
  lead: { title: '' },
  contact: { name: '', lastName: '' },
  company: { title: '' },
  quote: { title: '' },
  invoice: { title: '' },
});
const ENTITY_TYPE_LIST = Object.values(PLURALS);

/** A positive whole ID as a number (5141 or '5141'), else null. */
function recordId(value) {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null;
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) return recordId(Number(value));
  return null;
}

/**
 * Which CRM records exist: every positive whole ID of every entity type, except the removed ones.
 * Independent of the seeded search data (a removed seeded record is hidden from searches).
 */
class RecordBook {
  #removed = new Map(ENTITY_TYPE_LIST.map((t) => [t, new Set()]));

  static check(entityType, id) {
    if (!ENTITY_TYPE_LIST.includes(entityType)) throw new TypeError(`unknown entity type ${entityType}`);
    const n = recordId(id);
    if (n === null) throw new TypeError(`record id must be a positive whole number, got ${JSON.stringify(id)}`);
    return n;
  }

  remove(entityType, id) {
    this.#removed.get(entityType).add(RecordBook.check(entityType, id));
  }

  restore() {
    for (const set of this.#removed.values()) set.clear();
  }

  has(entityType, id) {
    const n = recordId(id);
    return n !== null && ENTITY_TYPE_LIST.includes(entityType) && !this.#removed.get(entityType).has(n);
  }

  /** The removed records, by type then ID. */
  list() {
    return [...this.#removed].flatMap(([entityType, ids]) => [...ids].sort((a, b) => a - b).map((id) => ({ entityType, id })));
  }
}

/**
 * 150 deals (5001–5150, three pages of 50), a few named ones among them, one without a title; all
 * at the first stage of the general pipeline but 5143, which is in pipeline C1 (where
 * "payment_received" is not set: a fire for it moves nothing).
 */
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
    deals.push({ id, title: id === 5013 ? '' : named[id] || `Order ${id}`, stageId: id === 5143 ? 'C1:NEW' : 'NEW', amount: id % 7 * 100 });
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
  if (!ENTITY_TYPE_LIST.includes(entityType)) throw new TypeError(`unknown entity type ${entityType}`);
  if (!Array.isArray(list)) throw new TypeError('records must be an array of objects with a numeric id');
  return list.map((r) => {
    if (!r || typeof r !== 'object' || typeof r.id !== 'number' || recordId(r.id) === null) {
      throw new TypeError('each record needs a positive whole numeric id');
    }
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

/**
 * The IDs an `id` condition names — `{ id: 5 }` or `{ id: { $in: [1, 2] } }` — as positive whole
 * numbers without repeats; null when it names none (no `id` condition, or only ranges and `$ne`),
 * and the search then runs over the seeded records only.
 */
function pinnedIds(condition) {
  if (condition === undefined) return null;
  let named;
  if (condition === null || typeof condition !== 'object') named = [condition];
  else if (Array.isArray(condition)) named = [];
  else if ('$in' in condition) named = Array.isArray(condition.$in) ? condition.$in : [];
  else return null;
  return [...new Set(named.map(recordId).filter((id) => id !== null))];
}

function compare(a, b, field) {
  const x = a[field];
  const y = b[field];
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return text(x).localeCompare(text(y));
}

/**
 * Answers a search body { filter, select, order, limit, offset } for one entity type. Records that
 * do not exist (`exists(id)` false) are never found. An `id` equality or `$in` finds every existing
 * record among the IDs it names: a seeded one with its data, another as `{ id }` (plus '' for the
 * title fields `select` asks for); the other conditions then apply to them. Like the real gateway,
 * unknown body fields are ignored and `meta.hasMore` is wrongly true on the exact last page.
 * `stageOf(id)`: a record's stage now (pipelines.js), which its stage field shows and filters by.
 */
function searchRecords(entityType, records, body, exists = () => true, stageOf = null) {
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
  const pinned = pinnedIds(filter.id);
  const unseeded = new Set();
  let pool;
  if (pinned) {
    const seeded = new Map(records.map((r) => [r.id, r]));
    pool = pinned.filter(exists).map((id) => {
      if (seeded.has(id)) return seeded.get(id);
      const r = { id };
      unseeded.add(r);
      return r;
    });
  } else {
    pool = records.filter((r) => exists(r.id));
  }
  const stageField = STAGE_FIELDS[entityType];
  if (stageField && stageOf) {
    pool = pool.map((r) => {
      const staged = { ...r, [stageField]: stageOf(r.id) };
      if (unseeded.delete(r)) unseeded.add(staged);
      return staged;
    });
  }
  // The pool already holds exactly the IDs named ('5141' or '05' included); what else the id condition says still applies.
  const conditions = Object.entries(filter).flatMap(([field, c]) => {
    if (!pinned || field !== 'id') return [[field, c]];
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return [];
    const { $in: _named, ...rest } = c;
    return [[field, rest]];
  });
  const found = pool.filter((r) => conditions.every(([field, c]) => matches(r, field, c)));
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
  const project = (r) => {
    if (!select) return { ...r };
    const from = unseeded.has(r) ? { ...UNSEEDED_FIELDS[entityType], ...r } : r;
    return Object.fromEntries(select.map((f) => [f.trim(), from[f.trim()]]));
  };
  const data = page.map(project);
  const end = offset + page.length;
  // Like the real API, a full last page still says hasMore (it judges by the page being full):
  // clients must go by total.
  const hasMore = end < found.length || (page.length > 0 && page.length === take);
  return { status: 200, body: { success: true, data, meta: { total: found.length, hasMore } } };
}

module.exports = { PLURALS, RecordBook, recordId, seedRecords, copyRecords, searchRecords };
