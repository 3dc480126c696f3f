'use strict';

// The portal's pipelines behind the records and the fires. A record of a type with stages (deal,
// lead, quote, invoice) is at one stage of one of its type's pipelines; each registered trigger
// is set on a stage of some pipelines (its automation rule). A fire moves the record forward to
// the trigger's stage of the record's own pipeline if it is before it, and otherwise does
// nothing, as Bitrix24 does: it answers true all the same when the trigger is not set on the
// record's pipeline or the record is already at that stage or past it (automation never moves a
// record back). Contacts and companies have no stage: Bitrix24 runs such a trigger for their
// linked deals, which this model leaves alone.

/** The field a search selects for a record's stage, as Vibecode names it. */
const STAGE_FIELDS = Object.freeze({ deal: 'stageId', lead: 'statusId', quote: 'statusId', invoice: 'stageId' });

/** Each type's pipelines, stages in order. Deals have two (Bitrix24's categories: the general one and "C1:"). */
const PIPELINES = Object.freeze({
  deal: [['NEW', 'PREPARATION', 'EXECUTING', 'WON'], ['C1:NEW', 'C1:PREPARATION', 'C1:EXECUTING', 'C1:WON']],
  lead: [['NEW', 'IN_PROCESS', 'PROCESSED', 'CONVERTED']],
  quote: [['DRAFT', 'SENT', 'APPROVED']],
  invoice: [['DT31_1:N', 'DT31_1:S', 'DT31_1:P']],
});

/**
 * Where each default trigger is set, by code: the stages it moves records to. "payment_received"
 * is set on the general deal pipeline only, so it does not move a deal of pipeline C1.
 */
const DEFAULT_AUTOMATION = Object.freeze({
  payment_received: [
    { entityType: 'deal', stage: 'EXECUTING' },
    { entityType: 'lead', stage: 'PROCESSED' },
    { entityType: 'invoice', stage: 'DT31_1:P' },
  ],
  delivery_confirmed: [
    { entityType: 'deal', stage: 'WON' },
    { entityType: 'deal', stage: 'C1:WON' },
    { entityType: 'quote', stage: 'APPROVED' },
  ],
  'contract.signed-v2': [
    { entityType: 'deal', stage: 'PREPARATION' },
    { entityType: 'deal', stage: 'C1:PREPARATION' },
    { entityType: 'lead', stage: 'IN_PROCESS' },
    { entityType: 'quote', stage: 'SENT' },
  ],
});

const hasStages = (entityType) => Object.prototype.hasOwnProperty.call(PIPELINES, entityType);

/** The pipeline a stage belongs to, or undefined. */
const pipelineOf = (entityType, stage) => (PIPELINES[entityType] || []).find((stages) => stages.includes(stage));

function checkStage(entityType, stage) {
  if (!hasStages(entityType)) throw new TypeError(`${entityType} records have no stage`);
  if (!pipelineOf(entityType, stage)) {
    throw new TypeError(`unknown ${entityType} stage ${JSON.stringify(stage)}; stages: ${PIPELINES[entityType].flat().join(', ')}`);
  }
  return stage;
}

function copyAutomation(rules) {
  if (!Array.isArray(rules)) throw new TypeError('a trigger\'s automation must be an array of { entityType, stage }');
  return rules.map((rule) => ({ entityType: rule && rule.entityType, stage: checkStage(rule && rule.entityType, rule && rule.stage) }));
}

class Pipelines {
  /** Stages set by fires or setStage, by "type:id"; the rest are at their seeded or first stage. */
  #stages = new Map();
  #automation = new Map();
  #seededStage;

  /** `seededStage(entityType, id)`: the stage the seeded data gives a record, if any. */
  constructor(seededStage) {
    this.#seededStage = seededStage;
    this.resetAutomation();
  }

  static hasStages(entityType) {
    return hasStages(entityType);
  }

  /** The record's stage now; null for a type without stages. */
  stageOf(entityType, id) {
    if (!hasStages(entityType)) return null;
    const set = this.#stages.get(`${entityType}:${Number(id)}`);
    if (set) return set;
    const seeded = this.#seededStage(entityType, Number(id));
    return pipelineOf(entityType, seeded) ? seeded : PIPELINES[entityType][0][0];
  }

  setStage(entityType, id, stage) {
    this.#stages.set(`${entityType}:${Number(id)}`, checkStage(entityType, stage));
  }

  /** Sets where a trigger moves records (replacing what it had); [] sets it nowhere. */
  setAutomation(code, rules) {
    if (typeof code !== 'string' || code === '') throw new TypeError('trigger code must be a non-empty string');
    this.#automation.set(code, copyAutomation(rules));
  }

  resetAutomation() {
    this.#automation = new Map(Object.entries(DEFAULT_AUTOMATION).map(([code, rules]) => [code, copyAutomation(rules)]));
  }

  /** Every trigger's rules, by code. */
  get automation() {
    return Object.fromEntries([...this.#automation].map(([code, rules]) => [code, rules.map((r) => ({ ...r }))]));
  }

  /** Every record back at its seeded or first stage (fires and setStage undone). */
  resetStages() {
    this.#stages.clear();
  }

  /**
   * A fire of `code` for an existing record: { moved, stageBefore, stageAfter }, or { moved: null }
   * for a type without stages.
   */
  fire(entityType, id, code) {
    if (!hasStages(entityType)) return { moved: null };
    const stageBefore = this.stageOf(entityType, id);
    const pipeline = pipelineOf(entityType, stageBefore);
    const rule = (this.#automation.get(String(code)) || []).find((r) => r.entityType === entityType && pipeline.includes(r.stage));
    const moves = rule !== undefined && pipeline.indexOf(stageBefore) < pipeline.indexOf(rule.stage);
    if (moves) this.setStage(entityType, id, rule.stage);
    return { moved: moves, stageBefore, stageAfter: moves ? rule.stage : stageBefore };
  }
}

/** What a fire of `sb.fires` did to its record, in words (npm start prints it). */
function whatItDid(fire) {
  const record = `${fire.entityType} ${fire.entityId}`;
  if (fire.moved === true) return `${record} moved from ${fire.stageBefore} to ${fire.stageAfter}`;
  if (fire.moved === false) {
    return `${record} did not move: it stays at ${fire.stageBefore} (the trigger is not set on its pipeline, or it is at`
      + ' that stage or past it)';
  }
  return `${record} has no stage (Bitrix24 runs the trigger for its linked deals)`;
}

module.exports = { Pipelines, PIPELINES, STAGE_FIELDS, DEFAULT_AUTOMATION, whatItDid };
