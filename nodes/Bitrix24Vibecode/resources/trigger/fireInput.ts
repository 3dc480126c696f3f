import type { IDataObject, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import {
	ENTITY_LABELS as LABELS,
	ENTITY_TYPE_BY_CRM_TYPE_ID,
	ENTITY_TYPES,
	isEntityType,
	type EntityType,
} from './entityTypes';
import { shown } from '../../shared/shown';

/** What is sent, as the output item repeats it. */
export interface FireInput extends IDataObject {
	entityType: EntityType;
	entityId: number;
	triggerId: string;
}

const TRIGGER_CODE = /^[A-Za-z0-9._-]+$/;
const TRIGGER_CODE_MAX = 255;
const DIGITS = /^[0-9]+$/;
// …/crm/deal/details/5141/, …/crm/quote/show/12/, …/crm/type/31/details/7/ (with or without host)
const RECORD_LINK = /\/crm\/(?:(deal|lead|contact|company|quote|invoice)|type\/(\d+))\/(?:details|show)\/(\d+)(?:[/?#]|$)/i;

function invalid(node: INode, itemIndex: number, field: string, value: unknown, why: string) {
	return new NodeOperationError(node, `Invalid ${field} "${shown(value)}" in item ${itemIndex}`, {
		itemIndex,
		description: why,
	});
}

function entityType(node: INode, itemIndex: number, value: unknown): EntityType {
	const normalized = typeof value === 'string' ? value.trim().toLowerCase() : value;
	if (isEntityType(normalized)) return normalized;
	throw invalid(node, itemIndex, 'Entity Type', value, `Entity Type must be one of: ${ENTITY_TYPES.join(', ')}.`);
}

function positiveId(value: unknown): number | undefined {
	const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
	if (!DIGITS.test(text)) return undefined;
	const id = Number(text);
	return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function idFromLink(node: INode, itemIndex: number, value: unknown, type: EntityType): number {
	// Only the path names the record: a query or fragment may hold any other link (?back=/crm/…).
	const match = typeof value === 'string' ? RECORD_LINK.exec(value.trim().split(/[?#]/)[0]) : null;
	const linkType = match && ((match[1]?.toLowerCase() as EntityType | undefined) ?? ENTITY_TYPE_BY_CRM_TYPE_ID[match[2]]);
	const id = match ? positiveId(match[3]) : undefined;
	if (!match || !linkType || id === undefined) {
		throw invalid(
			node,
			itemIndex,
			'Entity ID',
			value,
			'Paste the link of a Bitrix24 CRM record, such as https://your-portal.bitrix24.com/crm/deal/details/5141/ (quotes: /crm/type/7/details/ID/, invoices: /crm/type/31/details/ID/).',
		);
	}
	if (match[1]?.toLowerCase() === 'invoice') {
		// Legacy invoices and smart invoices are separate records with separate IDs in Bitrix24.
		throw invalid(
			node,
			itemIndex,
			'Entity ID',
			value,
			'This is a link to a legacy invoice (/crm/invoice/…). Vibecode fires triggers for smart invoices, whose IDs differ: open the smart invoice in Bitrix24 and copy its link (…/crm/type/31/details/ID/).',
		);
	}
	if (linkType !== type) {
		throw invalid(
			node,
			itemIndex,
			'Entity ID',
			value,
			`The link points to a ${LABELS[linkType].toLowerCase()}, but Entity Type is ${LABELS[type]}. Choose Entity Type ${LABELS[linkType]} or link a ${LABELS[type].toLowerCase()}.`,
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
export function checkFireInput(
	node: INode,
	itemIndex: number,
	body: IDataObject,
	entityIdMode: string,
): FireInput {
	const type = entityType(node, itemIndex, body.entityType);
	let id: number | undefined;
	// "list" (picked from the list) and "id" (typed) both hold the record's numeric ID.
	if (entityIdMode === 'url') {
		id = idFromLink(node, itemIndex, body.entityId, type);
	} else {
		id = positiveId(body.entityId);
		if (id === undefined) {
			throw invalid(
				node,
				itemIndex,
				'Entity ID',
				body.entityId,
				`Entity ID must be a positive whole number, such as 5141: the ID of the ${LABELS[type].toLowerCase()} in Bitrix24 (the number in its link).`,
			);
		}
	}
	const code = triggerCode(body.triggerId);
	if (!TRIGGER_CODE.test(code) || code.length > TRIGGER_CODE_MAX) {
		throw invalid(
			node,
			itemIndex,
			'Trigger',
			body.triggerId,
			`A trigger code has 1 to ${TRIGGER_CODE_MAX} characters: Latin letters, digits, ".", "-" and "_", such as payment_received. Pick the trigger from the list, or copy its CODE from List Triggers.`,
		);
	}
	return { entityType: type, entityId: id, triggerId: code };
}
