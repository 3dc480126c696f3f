import type { IDataObject, INode } from 'n8n-workflow';

import { ENTITY, ENTITY_TYPES, entityTypeOfCrmTypeId, isEntityType, type EntityType } from './entityTypes';
import { invalidValue } from './errors';

/** The fire request's body, checked; the output item repeats it. */
export interface FireInput extends IDataObject {
	entityType: EntityType;
	entityId: number;
	triggerId: string;
}

const TRIGGER_CODE = /^[A-Za-z0-9._-]+$/;
const TRIGGER_CODE_MAX = 255;
const DIGITS = /^[0-9]+$/;
// …/crm/deal/details/5141/, …/crm/quote/show/12/, …/crm/type/31/details/7/ (with or without host)
const RECORD_LINK = new RegExp(
	`/crm/(?:(${ENTITY_TYPES.join('|')})|type/(\\d+))/(?:details|show)/(\\d+)(?:[/?#]|$)`,
	'i',
);
const label = (type: EntityType) => ENTITY[type].label;

function entityType(node: INode, itemIndex: number, value: unknown): EntityType {
	const normalized = typeof value === 'string' ? value.trim().toLowerCase() : value;
	if (isEntityType(normalized)) return normalized;
	const why = `Entity Type must be one of: ${ENTITY_TYPES.join(', ')}.`;
	throw invalidValue(node, itemIndex, { field: 'Entity Type', value, why });
}

function positiveId(value: unknown): number | undefined {
	const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
	if (!DIGITS.test(text)) return undefined;
	const id = Number(text);
	return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function idFromLink(node: INode, itemIndex: number, value: unknown, type: EntityType): number {
	const invalid = (why: string) => invalidValue(node, itemIndex, { field: 'Entity ID', value, why });
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

/** Checks one item's fire request before anything is sent; the result is what goes on the wire. */
export function checkFireInput(node: INode, itemIndex: number, raw: IDataObject & { entityIdMode: string }): FireInput {
	const type = entityType(node, itemIndex, raw.entityType);
	let id: number | undefined;
	// "list" (picked from the list) and "id" (typed) both hold the record's numeric ID.
	if (raw.entityIdMode === 'url') {
		id = idFromLink(node, itemIndex, raw.entityId, type);
	} else {
		id = positiveId(raw.entityId);
		if (id === undefined) {
			const why = `Entity ID must be a positive whole number, such as 5141: the ID of the ${label(type).toLowerCase()} in Bitrix24 (the number in its link).`;
			throw invalidValue(node, itemIndex, { field: 'Entity ID', value: raw.entityId, why });
		}
	}
	const code = triggerCode(raw.triggerId);
	if (!TRIGGER_CODE.test(code) || code.length > TRIGGER_CODE_MAX) {
		const why = `A trigger code has 1 to ${TRIGGER_CODE_MAX} characters: Latin letters, digits, ".", "-" and "_", such as payment_received. Pick the trigger from the list, or copy its CODE from List Triggers.`;
		throw invalidValue(node, itemIndex, { field: 'Trigger', value: raw.triggerId, why });
	}
	return { entityType: type, entityId: id, triggerId: code };
}
