import type { IDataObject, INode } from 'n8n-workflow';

import { invalidValue } from '../../errors';
import { ENTITY, ENTITY_TYPES, entityTypeOfCrmTypeId, isEntityType, recordKey, type EntityType, type RecordRef } from '../../shared/entityTypes';

/** The fire request's body, checked; the output item repeats it. */
export interface FireInput extends IDataObject, RecordRef {
	triggerId: string;
}

/** One fire by what it fires, "deal:5141:payment_received": the default Fire Once Key, and the ledger's. */
export const fireName = (input: FireInput) => `${recordKey(input)}:${input.triggerId}`;

const TRIGGER_CODE = /^[A-Za-z0-9._-]+$/;
const TRIGGER_CODE_MAX = 255;
const DIGITS = /^[0-9]+$/;
// …/crm/deal/details/5141/, …/crm/quote/show/12/, …/crm/type/31/details/7/ (with or without host)
const RECORD_LINK = new RegExp(
	`/crm/(?:(${ENTITY_TYPES.join('|')})|type/(\\d+))/(?:details|show)/(\\d+)(?:[/?#]|$)`,
	'i',
);
const label = (type: EntityType) => ENTITY[type].label;

/** A value the rules below refuse: which field, the value, and why; worded once, by checkFireInput. */
class Invalid {
	constructor(readonly at: { field: string; value: unknown; why: string }) {}
}

function entityType(value: unknown): EntityType {
	const normalized = typeof value === 'string' ? value.trim().toLowerCase() : value;
	if (isEntityType(normalized)) return normalized;
	throw new Invalid({ field: 'Entity Type', value, why: `Entity Type must be one of: ${ENTITY_TYPES.join(', ')}.` });
}

function positiveId(value: unknown): number | undefined {
	const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
	if (!DIGITS.test(text)) return undefined;
	const id = Number(text);
	return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function idFromLink(value: unknown, type: EntityType): number {
	const invalid = (why: string) => new Invalid({ field: 'Entity ID', value, why });
	// Only the path names the record: a query or fragment may hold any other link (?back=/crm/…).
	const match = typeof value === 'string' ? RECORD_LINK.exec(value.trim().split(/[?#]/)[0]) : null;
	const named = match?.[1]?.toLowerCase() as EntityType | undefined;
	const linkType = match && (named ?? entityTypeOfCrmTypeId(match[2]));
	const id = match ? positiveId(match[3]) : undefined;
	if (!match || !linkType || id === undefined) {
		const byTypeId = ENTITY_TYPES.filter((t) => ENTITY[t].crmTypeId).map((t) => `${label(t).toLowerCase()}s: ${ENTITY[t].link}ID/`);
		throw invalid(
			`Paste the link of a Bitrix24 CRM record, such as https://your-portal.bitrix24.com${ENTITY.deal.link}5141/ (${byTypeId.join(', ')}).`,
		);
	}
	if (named && ENTITY[named].legacyNamedLink) {
		throw invalid(
			`This is a link to a legacy ${named} (/crm/${named}/…). Vibecode fires triggers for smart ${named}s, whose IDs differ: open the smart ${named} in Bitrix24 and copy its link (…${ENTITY[named].link}ID/).`,
		);
	}
	if (linkType !== type) {
		throw invalid(
			`The link points to a ${label(linkType).toLowerCase()}, but Entity Type is ${label(type)}. Choose Entity Type ${label(linkType)} or link a ${label(type).toLowerCase()}.`,
		);
	}
	return id;
}

function triggerCode(value: unknown): string {
	if (typeof value === 'string') return value.trim();
	// A code of digits turns into a number on the way, from a spreadsheet column for example.
	return Number.isSafeInteger(value) && (value as number) >= 0 ? String(value) : '';
}

/** The record's ID: "list" (picked from the list) and "id" (typed) both hold its numeric ID. */
function entityId(raw: IDataObject & { entityIdMode: string }, type: EntityType): number {
	if (raw.entityIdMode === 'url') return idFromLink(raw.entityId, type);
	const id = positiveId(raw.entityId);
	if (id !== undefined) return id;
	const why = `Entity ID must be a positive whole number, such as 5141: the ID of the ${label(type).toLowerCase()} in Bitrix24 (the number in its link).`;
	throw new Invalid({ field: 'Entity ID', value: raw.entityId, why });
}

/** Checks one item's fire request before anything is sent; the result is what goes on the wire. */
export function checkFireInput(node: INode, itemIndex: number, raw: IDataObject & { entityIdMode: string }): FireInput {
	try {
		const type = entityType(raw.entityType);
		const id = entityId(raw, type);
		const code = triggerCode(raw.triggerId);
		if (!TRIGGER_CODE.test(code) || code.length > TRIGGER_CODE_MAX) {
			const why = `A trigger code has 1 to ${TRIGGER_CODE_MAX} characters: Latin letters, digits, ".", "-" and "_", such as payment_received. Pick the trigger from the list, or copy its CODE from List Triggers.`;
			throw new Invalid({ field: 'Trigger', value: raw.triggerId, why });
		}
		return { entityType: type, entityId: id, triggerId: code };
	} catch (error) {
		throw error instanceof Invalid ? invalidValue(node, itemIndex, error.at) : error;
	}
}
