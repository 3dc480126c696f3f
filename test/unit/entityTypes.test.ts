import {
	ENTITY_LABELS_TEXT,
	ENTITY_TYPE_OPTIONS,
	entityTypeOfCrmTypeId,
} from '../../nodes/Bitrix24Vibecode/shared/entityTypes';

// Oracle: the fire endpoint's entityType values (deal, lead, contact, company, quote, invoice),
// the README's Entity Type field, and Bitrix24's record links (/crm/type/7/… quote,
// /crm/type/31/… smart invoice).

describe('the Entity Type dropdown', () => {
	test('holds the six types the fire endpoint accepts, sorted by name', () => {
		expect(ENTITY_TYPE_OPTIONS).toEqual([
			{ name: 'Company', value: 'company' },
			{ name: 'Contact', value: 'contact' },
			{ name: 'Deal', value: 'deal' },
			{ name: 'Invoice', value: 'invoice' },
			{ name: 'Lead', value: 'lead' },
			{ name: 'Quote', value: 'quote' },
		]);
	});

	test('is in alphabetical order by name', () => {
		const names = ENTITY_TYPE_OPTIONS.map((option) => option.name);
		expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
	});
});

test('ENTITY_LABELS_TEXT names the six types as the README does', () => {
	expect(ENTITY_LABELS_TEXT).toBe('Deal, Lead, Contact, Company, Quote or Invoice');
});

describe('entityTypeOfCrmTypeId', () => {
	test.each([
		['7', 'quote'],
		['31', 'invoice'],
	])('/crm/type/%s/… is a %s', (id, type) => {
		expect(entityTypeOfCrmTypeId(id)).toBe(type);
	});

	test.each(['2', '1', '3', '4', '5', '1032', '', '07', 'deal'])('%p is no type a trigger is fired for by link', (id) => {
		expect(entityTypeOfCrmTypeId(id)).toBeUndefined();
	});
});
