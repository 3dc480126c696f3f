import { NodeOperationError, type IDataObject } from 'n8n-workflow';

import { checkFireInput } from '../../nodes/Bitrix24Vibecode/resources/trigger/fireInput';
import { NODE, thrownBy } from './support';

// Oracle: the README's Operations section (Fire Trigger's fields, and "Every item is checked
// before anything is sent") and the API facts (entity types; trigger codes use Latin letters,
// digits, ".", "-" and "_").

const PORTAL = 'https://acme.bitrix24.com';
type Mode = 'list' | 'id' | 'url';
/** A value as a message quotes it: long values (links) are cut to 60 characters. */
const quoted = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}…` : text);

/** Expressions may give anything: the fields are unknown values. */
type Raw = Record<string, unknown>;

const check = (raw: Raw, entityIdMode: Mode = 'id', itemIndex = 0) =>
	checkFireInput(NODE, itemIndex, {
		...({ entityType: 'deal', entityId: 5141, triggerId: 'payment_received', ...raw } as IDataObject),
		entityIdMode,
	});

/** The error an invalid item gives: the node's own, naming the field, the value and the item. */
function invalid(raw: Raw, entityIdMode: Mode = 'id', itemIndex = 0): NodeOperationError {
	const error = thrownBy(() => check(raw, entityIdMode, itemIndex));
	expect(error).toBeInstanceOf(NodeOperationError);
	const nodeError = error as NodeOperationError;
	expect(nodeError.context.itemIndex).toBe(itemIndex);
	expect(typeof nodeError.description).toBe('string');
	expect((nodeError.description as string).length).toBeGreaterThan(20);
	return nodeError;
}

describe('Entity Type', () => {
	test.each([
		['deal', 'deal'],
		['Deal', 'deal'],
		['DEAL', 'deal'],
		['lead', 'lead'],
		['Lead', 'lead'],
		['contact', 'contact'],
		['Contact', 'contact'],
		['company', 'company'],
		['Company', 'company'],
		['quote', 'quote'],
		['Quote', 'quote'],
		['invoice', 'invoice'],
		['Invoice', 'invoice'],
	])('%s is %s', (given, sent) => {
		expect(check({ entityType: given })).toEqual({ entityType: sent, entityId: 5141, triggerId: 'payment_received' });
	});

	test.each<[unknown, string]>([
		['banana', 'banana'],
		['deals', 'deals'],
		['smart_invoice', 'smart_invoice'],
		['', ''],
		[7, '7'],
	])('%p is refused', (given, shown) => {
		const error = invalid({ entityType: given });
		expect(error.message).toBe(`Invalid Entity Type "${shown}" in item 0`);
		// What to do: the types it may be.
		for (const type of ['deal', 'lead', 'contact', 'company', 'quote', 'invoice']) {
			expect(error.description?.toLowerCase()).toContain(type);
		}
	});

	test('nothing from an expression is refused', () => {
		expect(invalid({ entityType: undefined }).message).toMatch(/^Invalid Entity Type ".*" in item 0$/);
	});
});

describe('Entity ID by ID (and as picked from the list)', () => {
	test.each<[unknown, number]>([
		[5141, 5141],
		['5141', 5141],
		[1, 1],
		['1', 1],
		[2 ** 53 - 1, 2 ** 53 - 1],
		['9007199254740991', 9007199254740991],
	])('%p is sent as the number %p', (given, id) => {
		for (const mode of ['id', 'list'] as const) {
			const fire = check({ entityId: given }, mode);
			expect(fire.entityId).toBe(id);
			expect(typeof fire.entityId).toBe('number');
		}
	});

	test.each<[unknown, string]>([
		// The README's examples.
		['abc', 'abc'],
		['-1', '-1'],
		['0', '0'],
		['1.5', '1.5'],
		['', ''],
		['9007199254740992', '9007199254740992'],
		// The same as numbers.
		[-1, '-1'],
		[0, '0'],
		[1.5, '1.5'],
		[2 ** 53, '9007199254740992'],
		// Neither a number nor digits.
		['12abc', '12abc'],
		['0x10', '0x10'],
		['5 141', '5 141'],
		[Number.NaN, 'null'],
		[true, 'true'],
	])('%p is refused', (given, shown) => {
		for (const mode of ['id', 'list'] as const) {
			const error = invalid({ entityId: given }, mode);
			expect(error.message).toBe(`Invalid Entity ID "${shown}" in item 0`);
			expect(error.description).toMatch(/whole number/);
		}
	});

	test('a link is not an ID', () => {
		expect(invalid({ entityId: `${PORTAL}/crm/deal/details/5141/` }, 'id').message).toMatch(/^Invalid Entity ID ".*" in item 0$/);
	});

	test('nothing from an expression is refused', () => {
		expect(invalid({ entityId: undefined }).message).toMatch(/^Invalid Entity ID ".*" in item 0$/);
		expect(invalid({ entityId: null }).message).toMatch(/^Invalid Entity ID ".*" in item 0$/);
	});

	test('the item named is the item checked (counted from 0)', () => {
		expect(invalid({ entityId: 'abc' }, 'id', 1).message).toBe('Invalid Entity ID "abc" in item 1');
		expect(invalid({ entityId: 'abc' }, 'id', 7).message).toBe('Invalid Entity ID "abc" in item 7');
	});
});

describe('Entity ID by URL', () => {
	test.each<[string, string, number]>([
		['deal', `${PORTAL}/crm/deal/details/5141/`, 5141],
		['lead', `${PORTAL}/crm/lead/details/42/`, 42],
		['contact', `${PORTAL}/crm/contact/details/11/`, 11],
		['company', `${PORTAL}/crm/company/details/3/`, 3],
		['quote', `${PORTAL}/crm/type/7/details/12/`, 12],
		['quote', `${PORTAL}/crm/quote/show/12/`, 12],
		['invoice', `${PORTAL}/crm/type/31/details/7/`, 7],
		// A Deal entity type typed in another case.
		['Deal', `${PORTAL}/crm/deal/details/5141/`, 5141],
		// Without the trailing slash.
		['deal', `${PORTAL}/crm/deal/details/5141`, 5141],
		// Only the path counts: not the query, not the fragment.
		['deal', `${PORTAL}/crm/deal/details/5141/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER`, 5141],
		['deal', `${PORTAL}/crm/deal/details/5141/#tab_products`, 5141],
		['deal', `${PORTAL}/crm/deal/details/5141/?back=/crm/lead/details/42/`, 5141],
		['deal', `${PORTAL}/crm/deal/details/5141/#/crm/lead/details/42/`, 5141],
		['deal', `${PORTAL}/crm/deal/details/5141?back=/crm/lead/details/42/`, 5141],
	])('%s, %s → %p', (entityType, link, id) => {
		expect(check({ entityType, entityId: link }, 'url')).toEqual({
			entityType: entityType.toLowerCase(),
			entityId: id,
			triggerId: 'payment_received',
		});
	});

	test.each<[string, string]>([
		['not a link', 'abc'],
		['an ID in URL mode', '5141'],
		['empty', ''],
		['a list, not a record', `${PORTAL}/crm/deal/list/`],
		['a record link only in the query', `${PORTAL}/crm/deal/list/?back=/crm/deal/details/5141/`],
		['a record link only in the fragment', `${PORTAL}/crm/deal/kanban/#/crm/deal/details/5141/`],
		['no ID', `${PORTAL}/crm/deal/details/`],
		['ID 0', `${PORTAL}/crm/deal/details/0/`],
		['an ID too large', `${PORTAL}/crm/deal/details/9007199254740992/`],
		['a CRM type that is not a fire type', `${PORTAL}/crm/type/1032/details/5/`],
		['not a CRM link', `${PORTAL}/company/personal/user/1/`],
	])('%s is refused, with an example of a record link', (_name, link) => {
		const error = invalid({ entityId: link }, 'url');
		expect(error.message).toBe(`Invalid Entity ID "${quoted(link)}" in item 0`);
		expect(error.description).toContain('/crm/deal/details/');
	});

	test('a number in URL mode is refused', () => {
		expect(invalid({ entityId: 5141 }, 'url').message).toBe('Invalid Entity ID "5141" in item 0');
	});

	test.each<[string, string]>([
		['invoice', `${PORTAL}/crm/invoice/show/7/`],
		['invoice', `${PORTAL}/crm/invoice/details/7/`],
		['deal', `${PORTAL}/crm/invoice/show/7/`],
	])('Entity Type %s, a legacy invoice link %s is refused: the smart invoice link is asked for', (entityType, link) => {
		const error = invalid({ entityType, entityId: link }, 'url');
		expect(error.message).toBe(`Invalid Entity ID "${quoted(link)}" in item 0`);
		expect(error.description).toMatch(/legacy/i);
		expect(error.description).toContain('/crm/type/31/details/');
	});

	test.each<[string, string, string, string]>([
		['Deal', `${PORTAL}/crm/lead/details/42/`, 'lead', 'Deal'],
		['lead', `${PORTAL}/crm/deal/details/5141/`, 'deal', 'Lead'],
		['contact', `${PORTAL}/crm/company/details/3/`, 'company', 'Contact'],
		['invoice', `${PORTAL}/crm/type/7/details/12/`, 'quote', 'Invoice'],
		['invoice', `${PORTAL}/crm/quote/show/12/`, 'quote', 'Invoice'],
		['quote', `${PORTAL}/crm/type/31/details/7/`, 'invoice', 'Quote'],
		['deal', `${PORTAL}/crm/type/31/details/7/`, 'invoice', 'Deal'],
	])('Entity Type %s and a link to a record of another type (%s) is refused, naming both', (entityType, link, linked, chosen) => {
		const error = invalid({ entityType, entityId: link }, 'url', 2);
		expect(error.message).toBe(`Invalid Entity ID "${quoted(link)}" in item 2`);
		expect(error.description?.toLowerCase()).toContain(linked);
		expect(error.description).toContain(chosen);
	});

	test('a long link is quoted cut short', () => {
		const link = `${PORTAL}/crm/lead/details/42/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER&something=long`;
		const error = invalid({ entityType: 'deal', entityId: link }, 'url');
		expect(error.message).toMatch(/^Invalid Entity ID ".+…" in item 0$/);
		expect(error.message.length).toBeLessThan(link.length + 30);
	});
});

describe('Trigger', () => {
	test.each<[unknown, string]>([
		['payment_received', 'payment_received'],
		['PAYMENT.received-2', 'PAYMENT.received-2'],
		['a', 'a'],
		['x'.repeat(255), 'x'.repeat(255)],
		// A code of digits that arrives as a number is sent as its digits.
		['12345', '12345'],
		[12345, '12345'],
		[0, '0'],
	])('%p is sent as %p', (given, code) => {
		expect(check({ triggerId: given }).triggerId).toBe(code);
	});

	test.each<[unknown, string]>([
		['', ''],
		['payment received', 'payment received'],
		['платёж', 'платёж'],
		['payment/received', 'payment/received'],
		['payment:received', 'payment:received'],
		['"payment"', '"payment"'],
		[1.5, '1.5'],
		[-3, '-3'],
		[true, 'true'],
	])('%p is refused', (given, shown) => {
		const error = invalid({ triggerId: given });
		expect(error.message).toBe(`Invalid Trigger "${shown}" in item 0`);
		expect(error.description).toMatch(/Latin letters, digits/);
	});

	test('a code longer than 255 characters is refused', () => {
		const error = invalid({ triggerId: 'x'.repeat(256) });
		expect(error.message).toMatch(/^Invalid Trigger "x+…" in item 0$/);
		expect(error.description).toContain('255');
	});

	test('nothing from an expression is refused', () => {
		expect(invalid({ triggerId: undefined }).message).toMatch(/^Invalid Trigger ".*" in item 0$/);
	});
});

test('a valid item is the request body exactly', () => {
	expect(checkFireInput(NODE, 3, { entityType: 'Company', entityId: '3', triggerId: 'delivery_confirmed', entityIdMode: 'list' })).toEqual({
		entityType: 'company',
		entityId: 3,
		triggerId: 'delivery_confirmed',
	});
});
