/** Types for test/sandbox/server.js, the local Bitrix24 Vibecode API stand-in. */

export declare const SEEDED: Readonly<{
  /** Personal key, crm scope, full access (apiKeyId 'personal'). */
  personal: 'vibe_api_sandbox_personal';
  /** OAuth application key; needs `Authorization: Bearer <session>` (apiKeyId 'app'). */
  app: 'vibe_app_sandbox_app';
  /** Valid user session token for the app key. */
  session: 'vibe_session_sandbox_user';
  /** Expired user session token: 401 TOKEN_EXPIRED. */
  expiredSession: 'vibe_session_sandbox_expired';
  /** Expired/deleted personal key: 401 INVALID_API_KEY. */
  expired: 'vibe_api_sandbox_expired';
  /** Management key: 403 MANAGEMENT_KEY_NO_ENTITY_ACCESS on /v1/triggers* (apiKeyId 'management'). */
  management: 'vibe_live_sandbox_mgmt';
  /** Personal key without the crm scope: 403 SCOPE_DENIED (apiKeyId 'noscope'). */
  noScope: 'vibe_api_sandbox_noscope';
  /** Read-only personal key: 403 WRITE_BLOCKED_READONLY_KEY on POST (apiKeyId 'readonly'). */
  readOnly: 'vibe_api_sandbox_readonly';
}>;

export declare const DEFAULT_TRIGGERS: ReadonlyArray<Readonly<Trigger>>;
export declare const ENTITY_TYPES: ReadonlyArray<EntityType>;
/** { status: 422, code: 'BITRIX_ERROR' }: the default answer to an application firing a code it did not register. */
export declare const DEFAULT_UNREGISTERED: Readonly<Required<UnregisteredCodeConfig>>;

export type EntityType = 'deal' | 'lead' | 'contact' | 'company' | 'quote' | 'invoice';

export interface Trigger {
  NAME: string;
  CODE: string;
}

/** A CRM record as the search endpoint returns it (camelCase fields, e.g. title, or name/lastName). */
export interface CrmRecord {
  id: number;
  [field: string]: unknown;
}

/** A CRM record by type and ID. */
export interface RecordRef {
  entityType: EntityType;
  /** A positive whole number, or a string of digits. */
  id: number | string;
}

/**
 * How the sandbox refuses a fire of a trigger code the calling application did not register (its
 * `triggers`): `{ success: false, error: { code, message: 'Trigger with code X is not registered.' } }`
 * with this HTTP status. How Vibecode wraps Bitrix24's refusal is not documented. Missing fields keep
 * the default { status: 422, code: 'BITRIX_ERROR' }.
 */
export interface UnregisteredCodeConfig {
  /** An HTTP error status, 400–599. Default 422. */
  status?: number;
  /** Default 'BITRIX_ERROR'. */
  code?: string;
}

export interface RateLimitConfig {
  /** Accepted requests per window, per key. */
  limit: number;
  windowMs: number;
  /**
   * What X-RateLimit-Reset (and -Reset-Ms) hold, as gateways differ. 'oldest' (default): a sliding
   * window, Reset when its oldest request leaves it (epoch s, rounded up); 'window': fixed windows
   * aligned to multiples of windowMs since the epoch, Reset at the current one's end; 'zero': a
   * sliding window, Reset 0 while it has room, else the seconds until the oldest leaves it.
   */
  reset?: 'oldest' | 'window' | 'zero';
}

/**
 * Bitrix24's throttle behind the gateway: one leaky bucket for the whole portal, shared by every key.
 * Each request that reaches the CRM (a fire past the gateway's checks, a search, the trigger list;
 * not /v1/me) adds 1; the level drains continuously at `drainPerSecond` (the sandbox's clock,
 * Date.now(), as the key's limiter). A request that would take the level over `burst` is answered
 * 502 BITRIX_UNAVAILABLE (the json502 fault's body, the X-RateLimit-* headers kept) and not applied.
 * Standard plans: { drainPerSecond: 2, burst: 50 }; Enterprise: { drainPerSecond: 5, burst: 250 }.
 */
export interface PortalConfig {
  /** Requests per second the bucket drains, > 0. */
  drainPerSecond: number;
  /** How many requests the bucket holds, a whole number >= 1. */
  burst: number;
}

export interface PortalState extends PortalConfig {
  /** The bucket's level now (fractional while it drains). */
  level: number;
}

export interface KeySpec {
  /** Non-secret label used in logs, fires and rate-limit buckets. Default: the key without its vibe_xxx_ prefix. */
  id?: string;
  /** Default: derived from the prefix (vibe_api_ personal, vibe_app_ app, vibe_live_ management). */
  type?: 'personal' | 'app' | 'management';
  /** Default ['crm', 'user'] ([] for management keys). */
  scopes?: string[];
  readOnly?: boolean;
  /** Expired/deleted: 401 INVALID_API_KEY. */
  expired?: boolean;
  /** Per-key rate limit (requests per the global window). Ignored while rate limiting is off. */
  limit?: number;
  /** What /v1/me reports as `user` for personal/management keys. */
  user?: Record<string, unknown>;
}

export interface SessionSpec {
  expired?: boolean;
  user?: Record<string, unknown>;
}

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default { limit: 300, windowMs: 60000 }; false disables limiting. */
  rateLimit?: RateLimitConfig | false;
  /** Added before every /v1 answer. Default 0. */
  latencyMs?: number;
  /** The portal's leaky bucket behind every key. Default false (off). Throws (startSandbox rejects) on an invalid config. */
  portal?: PortalConfig | false;
  /**
   * What GET /v1/triggers returns, and the codes an application key (vibe_app_) may fire.
   * Default DEFAULT_TRIGGERS.
   */
  triggers?: Trigger[];
  /**
   * Records that do not exist from the start, as with removeRecord(). By default every positive
   * whole ID of every entity type exists. Throws (startSandbox rejects) on an invalid entry.
   */
  missingRecords?: RecordRef[];
  /** How a fire of an unregistered code by an application is refused. Default { status: 422, code: 'BITRIX_ERROR' }. */
  unregisteredCode?: UnregisteredCodeConfig;
  /** Extra keys, by key string. */
  keys?: Record<string, KeySpec>;
  /** Keep every /v1 request in `requests`. Default true; turn off for very long runs. */
  recordRequests?: boolean;
}

export type FaultKind =
  | 'html502'
  | 'json502'
  | 'timeout504'
  | 'resetBeforeBody'
  | 'resetAfterBody'
  | 'slow'
  | 'malformed'
  | 'empty'
  | 'successFalse'
  | 'billing402'
  | 'error';

export interface FaultMatch {
  /** Case-insensitive. */
  method?: string;
  /** Exact path without query, e.g. '/v1/triggers/fire'. */
  path?: string;
  /** Compared as strings against the JSON body. Not allowed with resetBeforeBody. */
  triggerId?: string;
  entityId?: string | number;
}

export interface Fault {
  kind: FaultKind;
  /** How many matching requests it hits. Default 1; Infinity for "until reset()". */
  times?: number;
  match?: FaultMatch;
  /**
   * Run the request normally first (a valid fire IS recorded), then fail.
   * Models an ambiguous write. Default false; ignored for resetBeforeBody.
   */
  apply?: boolean;
  /** Wait before the fault. Default 0, or 5000 for `slow`; -1 (slow only) never answers. */
  delayMs?: number;
  /** For `empty` (default 200) and `error` (default 500). */
  status?: number;
  /** For `error`: an object is sent as JSON, a string as is. Default an INTERNAL_ERROR envelope. */
  body?: unknown;
  /** Extra/overriding response headers; a header given as null is left out (e.g. `'Retry-After': null`). */
  headers?: Record<string, string | null>;
}

export interface PendingFault extends Required<Pick<Fault, 'kind' | 'times' | 'apply' | 'delayMs'>> {
  match: { method?: string; path?: string; triggerId?: string; entityId?: string };
  status?: number;
  body?: unknown;
  headers?: Record<string, string | null>;
}

export interface RandomFaultsConfig {
  /** PRNG (mulberry32) seed. Default 1. */
  seed?: number;
  /** Probability, per counted /v1 request, of a fault. */
  rate: number;
  /** Drawn uniformly. Default: every kind except 'slow' and 'error'. */
  kinds?: FaultKind[];
  /** Boolean, or the probability that a drawn fault is applied first. Default false. */
  apply?: boolean | number;
  /** delayMs for drawn 'slow' faults. Default 5000. */
  delayMs?: number;
  /** Only requests matching this method/path are rolled for. */
  match?: Pick<FaultMatch, 'method' | 'path'>;
}

export interface Fire {
  entityType: EntityType;
  /** As sent (number or string). */
  entityId: number | string;
  triggerId: string;
  /** Non-secret key label, e.g. 'personal' or 'app'. */
  apiKeyId: string;
  /** Date.now() when recorded. */
  at: number;
  /**
   * Whether the fire moved the record: forward to the trigger's stage of the record's pipeline
   * (see setAutomation); false when the trigger is not set there or the record is at that stage
   * or past it. null for a contact or a company (no stage).
   */
  moved?: boolean | null;
  /** The record's stage before and after the fire (types with stages only). */
  stageBefore?: string;
  stageAfter?: string;
}

/** Where a trigger moves records: to `stage` of the pipeline that has it. */
export interface AutomationRule {
  entityType: 'deal' | 'lead' | 'quote' | 'invoice';
  stage: string;
}

/** A fire answered `{ success: true, data: true }` (as Bitrix24 does) for a record that does not exist: nothing ran. */
export interface IgnoredFire extends Fire {
  reason: 'no such record';
}

export interface RequestLogEntry {
  /** Also sent back as the X-Request-Id header. */
  id: number;
  method: string;
  /** Without the query string. */
  path: string;
  /** Date.now() when the request headers arrived. */
  at: number;
  /** When the answer was sent or the connection dropped; null while pending. */
  endAt: number | null;
  /** null if the connection was dropped without an answer. */
  status: number | null;
  /** Label of a recognised key, else null. */
  apiKeyId: string | null;
  /** Lower-cased request headers; x-api-key and authorization are '<redacted>'. */
  headers: Record<string, string | string[] | undefined>;
  hasAuthorization: boolean;
  /** e.g. 'Bearer'; null without an Authorization header. */
  authScheme: string | null;
  /** Parsed JSON, raw text if not JSON, null if empty or never read (resetBeforeBody). */
  body: unknown;
  fault: FaultKind | null;
  /** The fault had `apply` and the fire was recorded before it. */
  applied: boolean;
  /** This request recorded an entry in `fires` (false for a fire that went to `ignoredFires`). */
  fired: boolean;
  /**
   * The portal's bucket was full when the request reached Bitrix24: answered 502 BITRIX_UNAVAILABLE
   * (status 502, fired false) — or, behind an `apply` fault, the fault's answer with nothing applied.
   */
  portalRefused: boolean;
}

export interface Sandbox {
  /** e.g. 'http://127.0.0.1:41234', no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Same as SEEDED. */
  readonly keys: typeof SEEDED;
  /** Accepted fires of existing records, in order. Cleared in place by reset(). */
  readonly fires: Fire[];
  /**
   * Fires answered like a success but not applied because the record does not exist, in order.
   * Their requests are in `requests` (status 200, fired false). Cleared in place by reset().
   */
  readonly ignoredFires: IgnoredFire[];
  /** The records removed with removeRecord() or the missingRecords option, by type then ID. */
  readonly missingRecords: Array<{ entityType: EntityType; id: number }>;
  /** Every /v1 (non-control) request, in arrival order. Cleared in place by reset(). */
  readonly requests: RequestLogEntry[];
  /** Resolves once a request on `path` (such as '/v1/triggers/fire') has arrived, its body read: at once if one is in `requests`. */
  arrival(path: string): Promise<void>;
  /** Resolves once `fires` holds `count` fires: at once if it does. */
  firesReach(count: number): Promise<void>;
  /** Queued faults not used up yet. */
  readonly pendingFaults: PendingFault[];
  /** Requests the portal's bucket refused (see PortalConfig). Zeroed by reset(). */
  readonly portalRefusals: number;
  /** The portal's bucket now, or null while the model is off. */
  readonly portal: PortalState | null;
  /** Stops listening, ends hung requests, destroys every socket. Idempotent. */
  close(): Promise<void>;
  /**
   * Clears fires, ignoredFires, requests, queued and random faults, rate-limit windows, the portal's
   * bucket, portalRefusals and the records' stages (not keys, triggers, records, removed records, the unregistered-code
   * answer, latency, limits or the portal's settings).
   */
  reset(): void;
  /** Throws TypeError on an invalid fault. */
  injectFault(fault: Fault): PendingFault;
  setRandomFaults(config: RandomFaultsConfig | null): void;
  /** Also clears all rate-limit windows. */
  setRateLimit(config: RateLimitConfig | false): void;
  /** Turns the portal's bucket on (starting empty) or off. Throws TypeError on an invalid config. Kept by reset(). */
  setPortal(config: PortalConfig | false): void;
  setLatency(ms: number): void;
  /** What GET /v1/triggers returns, and the codes an application key may fire. */
  setTriggers(list: Trigger[]): void;
  /**
   * Replaces what POST /v1/{plural}/search finds for one entity type (seeded: 150 deals 5001–5150,
   * a few leads, contacts with name/lastName, companies, quotes, invoices). Not undone by reset().
   * Each record needs a positive whole numeric id. Which records exist is separate: see removeRecord().
   */
  setRecords(entityType: EntityType, records: CrmRecord[]): void;
  /**
   * The record stops existing: a fire for it is answered `{ success: true, data: true }` but goes to
   * `ignoredFires`, not `fires`; searches do not find it (seeded or not). Kept by reset(); undone by
   * restoreRecords(). Throws TypeError for an unknown type or an ID that is not a positive whole number.
   */
  removeRecord(entityType: EntityType, id: number | string): void;
  /** Every removed record exists again. */
  restoreRecords(): void;
  /**
   * A record's stage now: its seeded stage (deal 5143 is at C1:NEW, other seeded deals at NEW), or
   * its pipeline's first, until a fire or setStage() moves it; null for a contact or a company.
   * Pipelines (test/sandbox/pipelines.js): deals NEW → PREPARATION → EXECUTING → WON and C1:NEW →
   * C1:PREPARATION → C1:EXECUTING → C1:WON; leads NEW → IN_PROCESS → PROCESSED → CONVERTED; quotes
   * DRAFT → SENT → APPROVED; invoices DT31_1:N → DT31_1:S → DT31_1:P.
   */
  stageOf(entityType: EntityType, id: number | string): string | null;
  /** Puts a record at a stage (of the pipeline that has it). Undone by reset(); throws TypeError for an unknown stage. */
  setStage(entityType: EntityType, id: number | string, stage: string): void;
  /**
   * Where a trigger moves records, replacing its rules ([] sets it nowhere: its fires move nothing).
   * Defaults: payment_received → deal EXECUTING (general pipeline only), lead PROCESSED, invoice
   * DT31_1:P; delivery_confirmed → deal WON and C1:WON, quote APPROVED; contract.signed-v2 → deal
   * PREPARATION and C1:PREPARATION, lead IN_PROCESS, quote SENT. A code without rules moves nothing.
   * Kept by reset().
   */
  setAutomation(code: string, rules: AutomationRule[]): void;
  /** Every trigger back on its default rules. */
  resetAutomation(): void;
  /** Every trigger's rules, by code. */
  readonly automation: Record<string, AutomationRule[]>;
  /** Whether a record exists: its ID is a positive whole number (or a string of digits) and it was not removed. */
  recordExists(entityType: string, id: unknown): boolean;
  /** Throws TypeError on an invalid config. Kept by reset(). */
  setUnregisteredCode(config: UnregisteredCodeConfig): void;
  /** The process that uses `key` died: its requests and the answers it waits for hang from now on, unapplied; what it sent before stays applied. Not undone by reset(). */
  cutOff(key: string): void;
  addKey(key: string, spec?: KeySpec): { id: string; type: 'personal' | 'app' | 'management' };
  /** Adds a session token usable with app keys. */
  addSession(token: string, spec?: SessionSpec): void;
}

export declare function startSandbox(options?: SandboxOptions): Promise<Sandbox>;
