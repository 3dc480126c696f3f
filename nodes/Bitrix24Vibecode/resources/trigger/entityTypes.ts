export const ENTITY_TYPES = ['deal', 'lead', 'contact', 'company', 'quote', 'invoice'] as const;

export type EntityType = (typeof ENTITY_TYPES)[number];

/** As the Entity Type dropdown shows them. */
export const ENTITY_LABELS: Record<EntityType, string> = {
	company: 'Company',
	contact: 'Contact',
	deal: 'Deal',
	invoice: 'Invoice',
	lead: 'Lead',
	quote: 'Quote',
};

export const isEntityType = (value: unknown): value is EntityType =>
	(ENTITY_TYPES as readonly unknown[]).includes(value);

/** Bitrix24 shows quotes and smart invoices under numeric CRM type ids in record links. */
export const ENTITY_TYPE_BY_CRM_TYPE_ID: Record<string, EntityType> = { '7': 'quote', '31': 'invoice' };
