/**
 * The CRM record types a trigger can be fired for, one row each: everything the node shows or
 * sends about a type is derived from here, so adding a type is one row.
 */
// Stage fields: Vibecode's pages show `stageId` for deals; the others follow its camelCase
// mapping of Bitrix24's own fields (a lead's and a quote's STATUS_ID, a smart invoice's STAGE_ID).
// Contacts and companies have no stage: Bitrix24 runs their triggers for their linked deals.
const TABLE = {
	deal: { label: 'Deal', plural: 'deals', link: '/crm/deal/details/', stageField: 'stageId' },
	lead: { label: 'Lead', plural: 'leads', link: '/crm/lead/details/', stageField: 'statusId' },
	contact: { label: 'Contact', plural: 'contacts', link: '/crm/contact/details/', titleFields: ['name', 'lastName'] },
	company: { label: 'Company', plural: 'companies', link: '/crm/company/details/' },
	// Bitrix24 shows quotes and smart invoices under numeric CRM type ids in record links.
	quote: { label: 'Quote', plural: 'quotes', link: '/crm/type/7/details/', crmTypeId: '7', stageField: 'statusId' },
	// /crm/invoice/… is a legacy invoice: a record of its own, with IDs of its own.
	invoice: { label: 'Invoice', plural: 'invoices', link: '/crm/type/31/details/', crmTypeId: '31', legacyNamedLink: true, stageField: 'stageId' },
} as const;

export type EntityType = keyof typeof TABLE;

interface EntityTypeRow {
	/** As the Entity Type dropdown and the messages show it. */
	label: string;
	/** The path segment of its search endpoint, POST /v1/{plural}/search. */
	plural: string;
	/** Where Bitrix24 shows a record of the type, before its ID. */
	link: string;
	/** The CRM type id in its record links (/crm/type/{id}/details/…), where it has one. */
	crmTypeId?: string;
	/** What a record's title is made of; `title` unless said. */
	titleFields?: readonly string[];
	/** Whether /crm/{type}/… names another record (a legacy invoice), not one of this type. */
	legacyNamedLink?: boolean;
	/** The field a search selects for a record's stage; none for a type without stages. */
	stageField?: string;
}

export const ENTITY: Record<EntityType, EntityTypeRow> = TABLE;

/** One CRM record: what a fire, a search and a message name. */
export interface RecordRef {
	entityType: EntityType;
	entityId: number;
}

/** A record as the run's searches and keys name it: "deal:5141". */
export const recordKey = ({ entityType, entityId }: RecordRef) => `${entityType}:${entityId}`;

export const ENTITY_TYPES = Object.keys(TABLE) as EntityType[];

export const isEntityType = (value: unknown): value is EntityType =>
	typeof value === 'string' && Object.prototype.hasOwnProperty.call(TABLE, value);

/** "Deal, Lead, Contact, Company, Quote or Invoice". */
export const ENTITY_LABELS_TEXT = `${ENTITY_TYPES.slice(0, -1)
	.map((type) => ENTITY[type].label)
	.join(', ')} or ${ENTITY[ENTITY_TYPES[ENTITY_TYPES.length - 1]].label}`;

/** The Entity Type dropdown, in the alphabetical order n8n's rules ask for. */
export const ENTITY_TYPE_OPTIONS = ENTITY_TYPES.map((value) => ({ name: ENTITY[value].label, value })).sort((a, b) =>
	a.name.localeCompare(b.name),
);

/** Vibecode's search of a type's records. */
export const searchPathOf = (type: EntityType) => `/v1/${ENTITY[type].plural}/search`;

/** The record fields a type's title is made of. */
export const titleFieldsOf = (type: EntityType): readonly string[] => ENTITY[type].titleFields ?? ['title'];

/** The type a CRM type id in a record link stands for. */
export const entityTypeOfCrmTypeId = (id: string): EntityType | undefined =>
	ENTITY_TYPES.find((type) => ENTITY[type].crmTypeId === id);

/** The field of a type's stage, or undefined for a type without stages (contact, company). */
export const stageFieldOf = (type: EntityType): string | undefined => ENTITY[type].stageField;
