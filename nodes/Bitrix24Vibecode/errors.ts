import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { closest, type Registered } from './shared/closest';
import { shown } from './shared/shown';
import { isAmbiguous, type BitrixRefusal, type Failure } from './transport/failure';
import { ENTITY, ENTITY_LABELS_TEXT, type RecordRef } from './shared/entityTypes';

// What a person reads when something fails: the wording of every error the node shows.

/** 'search': the Entity ID list (a read of CRM records). */
export type Operation = 'list' | 'fire' | 'search';

const CHECK_DASHBOARD = 'in the Vibecode dashboard';
const APP_KEY_NEEDED =
	'Listing triggers works only with an OAuth application key (vibe_app_…) plus a user session token; a personal key (vibe_api_…) can still fire triggers. Switch the credential to an application key, or type the trigger code: in the Trigger field switch from "From List" to "By Code".';
/** For failures that cannot have reached Bitrix24: a fire is safe to run again. */
const notSent = (operation: Operation) =>
	operation === 'fire'
		? 'Nothing reached Bitrix24, so the trigger did not fire: the item is safe to run again.'
		: 'Nothing reached Bitrix24.';
const MAY_HAVE_FIRED =
	'The trigger may already have fired: check the record in Bitrix24 before running the item again. The node did not resend it, so the automation cannot run twice (see the option "Retry Failed Fires (May Fire Twice)").';
const REFUSED = 'Vibecode refused the request, so the trigger did not fire.';
/** What a failure means for a fire, as isAmbiguous judges it; `otherwise` for a read. */
const forFire = (operation: Operation, failure: Failure, otherwise: string) =>
	operation !== 'fire' ? otherwise : isAmbiguous(failure) ? MAY_HAVE_FIRED : REFUSED;

type Explanation = { message: string; hint: string };
const say = (message: string, hint: string): Explanation => ({ message, hint });

const byCode: Record<string, (operation: Operation, failure: Failure) => Explanation> = {
	MISSING_PARAMS: () => say('Vibecode says a required field is missing', 'Fill in Entity Type, Entity ID and Trigger.'),
	INVALID_ENTITY_TYPE: () => say('Vibecode does not know this entity type', `Choose ${ENTITY_LABELS_TEXT} as Entity Type.`),
	MISSING_API_KEY: () => say('No Vibecode API key was sent', 'Open the Bitrix24 Vibecode credential and paste your key into "API Key".'),
	INVALID_API_KEY: () => say('The Vibecode API key is invalid or expired', `Create a new key ${CHECK_DASHBOARD} and paste it into the credential.`),
	INVALID_APP_KEY: () => say('The OAuth application key needs a user session token', 'Fill in "Session Token" in the credential with the token from the Vibecode OAuth flow (/v1/oauth/authorize).'),
	TOKEN_MISSING: () => say('The API key has no active Bitrix24 session', 'For an OAuth application key (vibe_app_…), fill in "Session Token" with the token from /v1/oauth/authorize. For a personal key, reconnect the Bitrix24 portal in the Vibecode dashboard.'),
	TOKEN_EXPIRED: () => say('The Bitrix24 user session has expired', 'Re-authorize via /v1/oauth/authorize and paste the new session token into the credential.'),
	PAYMENT_REQUIRED: () => say('The Vibecode credit budget is used up', `Top up the balance ${CHECK_DASHBOARD}, then run the workflow again.`),
	SCOPE_DENIED: () => say('The API key may not use the CRM', `Enable the "crm" scope for this key ${CHECK_DASHBOARD}.`),
	BITRIX_ACCESS_DENIED: (operation) => {
		if (operation === 'list') return say('Listing triggers needs an OAuth application key', APP_KEY_NEEDED);
		if (operation === 'search') {
			return say('Bitrix24 denied access to these records', 'Check that the user behind the key may see these records in Bitrix24, and that the key was issued with the "crm" scope (a scope added to an existing key takes effect only once the key is re-issued). Or type the ID: switch Entity ID to "By ID".');
		}
		return say('Bitrix24 denied access to this record', 'Check that the user behind the key may edit this record in Bitrix24.');
	},
	OAUTH_REQUIRED: (operation) =>
		say(
			'This needs an OAuth application key',
			operation === 'search' ? 'Use an OAuth application key (vibe_app_…) with a session token, or type the ID: switch Entity ID to "By ID".' : APP_KEY_NEEDED,
		),
	MANAGEMENT_KEY_NO_ENTITY_ACCESS: () => say('A management key cannot access CRM data', 'Use a personal key (vibe_api_…) or an OAuth application key (vibe_app_…) instead of the management key (vibe_live_…).'),
	WRITE_BLOCKED_READONLY_KEY: () => say('The API key is read-only', `Firing a trigger changes data: use a key with write access, or turn off read-only mode ${CHECK_DASHBOARD}.`),
	RATE_LIMITED: (operation, { refusedWaitSeconds: wait }) =>
		wait === undefined
			? say('Too many requests for this API key', `${notSent(operation)} The node waited and retried as often as "Max Retries on Rate Limit" allows. Lower "Requests per Minute" in the node options, or raise the key's limit ${CHECK_DASHBOARD}.`)
			: say(`Vibecode asked to wait ${Math.ceil(wait)} seconds before the next request`, `${notSent(operation)} The key is blocked for longer than the option "Max Wait on Rate Limit (Seconds)" allows (by default a minute, the longest wait the key's rate window asks for), so the node did not hold the key that long. Run the item again after that wait, and check the key's limits ${CHECK_DASHBOARD}.`),
	BITRIX_UNAVAILABLE: (operation, failure) => say('The Bitrix24 portal did not answer', forFire(operation, failure, 'Try again in a few minutes.')),
	QUEUE_TIMEOUT: (operation, failure) => say('The Vibecode gateway timed out', forFire(operation, failure, 'Try again in a few minutes.')),
	INTERNAL_ERROR: (operation, failure) => say('Vibecode had an internal error', forFire(operation, failure, 'Try again later.')),
	NOT_FOUND: () => say('Vibecode does not know this address', 'Check the Base URL in the credential: it should be https://vibecode.bitrix24.tech without a path.'),
	// Not Vibecode codes: what the node itself observed.
	NON_JSON_RESPONSE: (operation, failure) => say('Vibecode answered with something that is not JSON', `A gateway or proxy returned an error page. ${forFire(operation, failure, 'Try again in a few minutes.')}`),
	EMPTY_RESPONSE: (operation, failure) => say('Vibecode sent an empty answer', forFire(operation, failure, 'Try again in a few minutes.')),
	UNKNOWN_FAILURE: (operation, failure) => say('Vibecode reported a failure without details', forFire(operation, failure, 'Try again later.')),
	ECONNREFUSED: (operation) => say('Could not connect to Vibecode', `${notSent(operation)} Check the Base URL in the credential and that n8n can reach it.`),
	ENOTFOUND: (operation) => say('The Vibecode host could not be found', `${notSent(operation)} Check the Base URL in the credential.`),
	EAI_AGAIN: (operation) => say("The Vibecode host name could not be looked up", `${notSent(operation)} The DNS server did not answer in time; try again in a moment, and check n8n's network settings if it persists.`),
	INVALID_URL: (operation) => say('The Base URL is not a valid address', `${notSent(operation)} Set the credential's Base URL to https://vibecode.bitrix24.tech (or your gateway's address, with http:// or https://).`),
	TLS_FAILED: (operation) => say('A secure connection to Vibecode could not be set up', `${notSent(operation)} The server's certificate was not accepted, or the Base URL says https:// for a server that speaks plain http. Check the Base URL in the credential.`),
	ECONNRESET: (operation, failure) => say('The connection to Vibecode broke before an answer arrived', forFire(operation, failure, 'Try again in a few minutes.')),
	TIMEOUT: (operation, failure) => say('Vibecode did not answer in time', `${forFire(operation, failure, 'Try again in a few minutes.')} The time limit is the node setting "Timeout".`),
};

// For codes the node does not know: what the status alone says, and nothing more.
function byStatusOnly(failure: Failure, operation: Operation): Explanation {
	const status = Number(failure.httpCode);
	const message = Number.isNaN(status)
		? `The connection to Vibecode failed (${failure.code})`
		: `Vibecode refused the request (${failure.code}, HTTP ${failure.httpCode})`;
	if (isAmbiguous(failure)) {
		return { message, hint: forFire(operation, failure, 'Try again later.') };
	}
	const refused = operation === 'fire' ? REFUSED : 'Vibecode refused the request.';
	return { message, hint: `${refused} Its message below says why; this code is not one the node knows.` };
}

/** Bitrix24's own refusals of a fire (failure.ts recognises them): nothing was fired. A read is worded by its code. */
const byBitrixRefusal: Record<BitrixRefusal, () => Explanation> = {
	TRIGGER_NOT_REGISTERED: () => say('The trigger code is not registered for this application', 'Bitrix24 refused it, so nothing was fired: a trigger code must be one the OAuth application registered (see List Triggers).'),
	APPLICATION_CONTEXT_REQUIRED: () => say('Firing a trigger needs an OAuth application key', "Bitrix24 fires a trigger only in the context of the OAuth application that registered it, so nothing was fired. This is not about the user's rights on the record: put an application key (vibe_app_…) and its session token into the credential."),
	EMPTY_TRIGGER_CODE: () => say('Bitrix24 got an empty trigger code', 'Nothing was fired. Fill in Trigger: pick it from the list, or type its code.'),
	WRONG_TRIGGER_CODE: () => say('Bitrix24 does not accept this trigger code', 'Nothing was fired. A trigger code has Latin letters, digits, ".", "-" and "_" only: copy it from List Triggers.'),
	WRONG_OWNER_TYPE_ID: () => say('Bitrix24 does not accept this entity type for a trigger', `Nothing was fired. Choose ${ENTITY_LABELS_TEXT} as Entity Type.`),
	WRONG_OWNER_ID: () => say('Bitrix24 does not accept this record ID', 'Nothing was fired. Entity ID must be the ID of a record, a whole number from 1 (the number in its link).'),
};

function explain(failure: Failure, operation: Operation): Explanation {
	if (failure.bitrixRefusal && operation === 'fire') return byBitrixRefusal[failure.bitrixRefusal]();
	const known = byCode[failure.code];
	return known ? known(operation, failure) : byStatusOnly(failure, operation);
}

/** The error a failed request shows, in the words of the operation that sent it. */
export function apiError(node: INode, itemIndex: number, failure: Failure, operation: Operation): NodeApiError {
	const { message, hint } = explain(failure, operation);
	const said = [failure.apiMessage, failure.userMessage].filter(Boolean).join(' — ');
	const description = [hint, failure.hint && `Vibecode's hint: ${failure.hint}`, said && `Vibecode said: "${said}"`].filter(Boolean).join(' ');
	// Built from known fields only: the raw HTTP error holds the request and its secret headers.
	// The hint is the node's own: the gateway's "Retry later" on a 502 could run a fire twice,
	// and the description quotes it anyway.
	const response: JsonObject = { code: failure.code, httpCode: failure.httpCode, hint };
	if (failure.apiMessage) response.message = failure.apiMessage;
	if (failure.userMessage) response.userMessage = failure.userMessage;
	return new NodeApiError(node, response, { message, description, httpCode: failure.httpCode, itemIndex });
}

/** One of the node's own errors, for an item; a `code` for IF nodes and agents, as the API's errors have. */
function itemError(node: INode, itemIndex: number, message: string, description: string, code?: string) {
	const error = new NodeOperationError(node, message, { itemIndex, description });
	if (code) error.context.code = code;
	return error;
}

/** An input value the node cannot send; nothing was sent for the item. */
export function invalidValue(node: INode, itemIndex: number, at: { field: string; value: unknown; why: string }) {
	return itemError(node, itemIndex, `Invalid ${at.field} "${shown(at.value)}" in item ${itemIndex}`, at.why);
}

/** The record list's Entity Type (the editor's value, before the node is saved) is not one it can list. */
export function listEntityTypeError(node: INode, value: unknown) {
	if (typeof value === 'string' && value.startsWith('=')) {
		return new NodeOperationError(node, 'Entity Type is an expression, so there is no list to show', {
			description: `The record list needs a fixed Entity Type: choose ${ENTITY_LABELS_TEXT}, or switch Entity ID to "By ID" and give the ID there.`,
		});
	}
	return new NodeOperationError(node, `Unknown Entity Type "${String(value)}"`, { description: `Choose one of: ${ENTITY_LABELS_TEXT.replace(' or ', ', ')}.` });
}

/** How a message names a record: "Deal 5143". */
export const recordName = (record: RecordRef) => `${ENTITY[record.entityType].label} ${record.entityId}`;

/** An item whose record does not exist in Bitrix24: nothing was sent for it. */
export function missingRecordError(node: INode, itemIndex: number, record: RecordRef) {
	return itemError(node, itemIndex, `${recordName(record)} does not exist in Bitrix24 (item ${itemIndex})`, `Nothing was sent for this item. Bitrix24 accepts a fire for a record that does not exist and runs no automation, so the node looked the record up first and did not find it. Check the ID (the number in the record's link) and the Entity Type: a record deleted in Bitrix24 cannot be fired. To fire without the check, turn off the option "Check Records Exist".`, 'RECORD_NOT_FOUND');
}

/** Why a fired record may not have moved: Bitrix24 answers success in each of these cases. */
const notMovedWhy = (record: RecordRef, stage: string) =>
	`Bitrix24 accepted the fire, but ${recordName(record)} did not move: it is still at stage "${shown(stage)}". Likely reasons: the trigger is not set on this ${ENTITY[record.entityType].label.toLowerCase()}'s pipeline or stage, its conditions are not met, or the ${ENTITY[record.entityType].label.toLowerCase()} is already at the trigger's stage or past it (automation never moves a record back). Check the automation rules of its pipeline in Bitrix24.`;

/**
 * The plain-words note of a fired item whose stage report is not "moved": not moved, or unknown.
 * Undefined for a record that moved.
 */
export function stageNote(record: RecordRef, stage: { before: string | null; after: string | null; moved: boolean | null }) {
	if (stage.moved === true) return undefined;
	if (stage.moved === false) return notMovedWhy(record, stage.after as string);
	const unread = stage.after === null ? 'after the fire' : 'before the fire';
	return `Bitrix24 accepted the fire, but the stage of ${recordName(record)} ${unread} could not be read, so whether it moved is unknown: check the record in Bitrix24. The fire was not sent again.`;
}

/** "When the Record Did Not Move" → "Fail the Item": the record was fired, and did not move. */
export function notMovedError(node: INode, itemIndex: number, record: RecordRef, stage: string) {
	return itemError(node, itemIndex, `${recordName(record)} did not move (item ${itemIndex})`, `${notMovedWhy(record, stage)} The trigger was fired, so the item is not sent again (on a retry, or by "Fire Once Across Executions", which remembers it as fired).`, 'RECORD_NOT_MOVED');
}

/** Why an item was not fired under "Fire Once Across Executions"; it is not a failure. */
export const SKIPPED_EARLIER =
	'Not fired: an earlier execution of this node fired this Fire Once Key (or sent it and got an unclear answer).';
export const skippedSameKey = (firstIndex: number) => `Not fired: item ${firstIndex} of this run has the same Fire Once Key.`;

/** The option that fires a key another execution claimed and never answered, once a person has checked the record. */
const FIRE_UNANSWERED_OPTION = '"Fire Once Keys Left Unanswered" → "Fire (I Checked the Records)"';

/**
 * Another execution claimed the item's key and never recorded Bitrix24's answer: it died in the
 * middle of its run, or it is still running. This run did not send it; the fire may have happened.
 */
export function fireOnceUnansweredError(node: INode, itemIndex: number, at: { key: string; input?: RecordRef }) {
	const record = at.input ? `${ENTITY[at.input.entityType].label} ${at.input.entityId}` : 'the record';
	return itemError(node, itemIndex, `Fire Once Key "${shown(at.key)}" may already have fired (item ${itemIndex})`, `This item was not sent. Another execution of this node claimed this key and never recorded Bitrix24's answer: n8n stopped in the middle of that execution (a crash, a restart, a deploy), or that execution is still running. Its fire may or may not have reached Bitrix24. Check ${record} in Bitrix24: if its automation ran, nothing is left to do. If it did not, run this item again with the option ${FIRE_UNANSWERED_OPTION}, then set the option back.`, 'FIRE_ONCE_UNANSWERED');
}

/** Fire Once was asked for where n8n gives the node no deduplication store: nothing is sent. */
export const fireOnceUnavailableError = (node: INode, itemIndex: number) =>
	itemError(node, itemIndex, `"Fire Once Across Executions" is not available here (item ${itemIndex})`, 'Nothing was fired. n8n gives a node the record of what it fired only when it runs as a workflow step or as a tool of AI Agent 3 and newer; AI Agent 2.2 and older call their tools without it. Use a newer AI Agent version, or turn the option off.');

/** n8n's deduplication store could not be read or written before the fire: nothing is sent. */
export const fireOnceStoreError = (node: INode, itemIndex: number, cause: unknown) =>
	itemError(node, itemIndex, `Could not check "Fire Once Across Executions" in n8n's database (item ${itemIndex})`, `Nothing was fired, so the item is safe to run again. n8n said: "${shown((cause as Error)?.message ?? cause)}"`);

/** The store answered, but other processes' writes kept erasing the item's key: nothing is sent. */
export const fireOnceUnconfirmedError = (node: INode, itemIndex: number) =>
	itemError(node, itemIndex, `Could not record the Fire Once Key in n8n's database (item ${itemIndex})`, `Nothing was fired, so the item is safe to run again. Other n8n processes (queue-mode workers) kept overwriting this node's record of fired keys at the same moment; run the item again a little later. If that run reports its key as "may already have fired", it was not fired here: run it with the option ${FIRE_UNANSWERED_OPTION}.`);

export const cancelledError = (node: INode, itemIndex: number) =>
	itemError(node, itemIndex, 'Not sent: the execution was cancelled', 'The run was stopped before this item was due, so nothing was sent for it.');

/** The code the node gave one of its own errors (`itemError`), if any. */
export const codeOf = (error: Error) => (error as { context?: { code?: unknown } }).context?.code as string | undefined;

/** Only n8n's errors leave the node (what n8n's RoutingNode does with its own). */
export const asNodeError = (node: INode, itemIndex: number, error: unknown) =>
	error instanceof NodeApiError || error instanceof NodeOperationError
		? error
		: new NodeOperationError(node, error as Error, { itemIndex });

/** "Registered trigger codes, closest first: …": what the application could have meant. */
export function closestCodesText(code: string, registered: Registered[]): string {
	if (registered.length === 0) return 'This OAuth application has registered no triggers on the portal.';
	const named = ({ code: c, name }: Registered) => (name ? `${c} (${name})` : c);
	const suggestions = closest(code, registered);
	const rest = registered.length - suggestions.length;
	const more = rest > 0 ? ` (and ${rest} more: see List Triggers)` : '';
	return `Registered trigger codes, closest first: ${suggestions.map(named).join(', ')}${more}.`;
}

/** A code the application did not register (their list was read just now): nothing was sent. */
export const unknownTriggerError = (node: INode, itemIndex: number, code: string, registered: Registered[]) =>
	itemError(node, itemIndex, `Unknown Trigger "${shown(code)}" in item ${itemIndex}`, `The trigger code is not one of this application's triggers (their list was read just now), so it was not sent: Bitrix24 refuses a code the application did not register. ${closestCodesText(code, registered)}`);
