import { details, errorMessage, json } from './helpers';
import { fireBodies, fireWith, useSandbox } from './sandboxRun';

const box = useSandbox();
const fire = fireWith(box);

describe('Fire Trigger checks every item before anything is sent', () => {
	const badEntityIds: Array<[string, string | number]> = [
		['letters', 'abc'],
		['a negative number', -1],
		['zero', 0],
		['a fraction', 1.5],
		['an empty value', ''],
		['2^53, past the safe integers', 2 ** 53],
		['a numeric string with a sign', '+5'],
	];

	test.each(badEntityIds)('Entity ID: %s', async (_label, id) => {
		const result = await fire([{ id: 1 }, { id }, { id: 3 }], { onError: 'continueErrorOutput' });

		expect(fireBodies(box.sandbox).map((body) => body.entityId)).toEqual([1, 3]);
		expect(json(result.main).map((item) => item.entityId)).toEqual([1, 3]);
		expect(result.errors).toHaveLength(1);
		const [failed] = result.errors;
		expect(errorMessage(failed)).toBe(`Invalid Entity ID "${id === '' ? '' : String(id)}" in item 1`);
		expect(failed.json.id).toEqual(id);
		expect(details(failed)).toMatchObject({
			code: 'INVALID_PARAMETER',
			httpCode: null,
			entityType: 'deal',
			entityId: id,
			description: 'Entity ID must be a positive whole number, such as 5141: the ID of the deal in Bitrix24 (the number in its link).',
		});
	});

	test('Entity Type from an expression that is not a CRM type', async () => {
		const result = await fire([{ id: 1, type: 'banana' }], {
			entityType: '={{ $json.type }}',
			onError: 'continueErrorOutput',
		});

		expect(fireBodies(box.sandbox)).toEqual([]);
		expect(errorMessage(result.errors[0])).toBe('Invalid Entity Type "banana" in item 0');
		expect(details(result.errors[0]).description).toBe(
			'Entity Type must be one of: deal, lead, contact, company, quote, invoice.',
		);
	});

	test.each([
		['empty', ''],
		['with a space inside', 'payment received'],
		['with non-Latin letters', 'оплата'],
		['with an injection', 'x"; DROP TABLE'],
		['too long', 'a'.repeat(256)],
	])('Trigger code %s', async (_label, code) => {
		// Through an expression: n8n itself refuses to start with a literally empty required field.
		const result = await fire([{ id: 1, code }], { trigger: '={{ $json.code }}', onError: 'continueErrorOutput' });

		expect(fireBodies(box.sandbox)).toEqual([]);
		expect(errorMessage(result.errors[0])).toMatch(/^Invalid Trigger ".*" in item 0$/);
		expect(details(result.errors[0]).description).toMatch(/Latin letters, digits, "\.", "-" and "_"/);
		expect(details(result.errors[0]).triggerId).toBe(code);
	});

	test.each([
		['a lead link while Entity Type is Deal', 'https://acme.bitrix24.com/crm/lead/details/5/', /points to a lead, but Entity Type is Deal\. Choose Entity Type Lead/],
		['a link without an ID', 'https://acme.bitrix24.com/crm/deal/kanban/', /Paste the link of a Bitrix24 CRM record/],
		['a smart process link', 'https://acme.bitrix24.com/crm/type/128/details/5/', /Paste the link of a Bitrix24 CRM record/],
		['not a link', 'hello', /Paste the link/],
		// Legacy invoices and smart invoices are different records with different IDs.
		['a legacy invoice link', 'https://acme.bitrix24.com/crm/invoice/show/12/', /legacy invoice.*smart invoice.*\/crm\/type\/31\/details\/ID\//],
	])('Entity ID by URL: %s', async (_label, link, why) => {
		const result = await fire([{}], { mode: 'url', entityId: link, onError: 'continueErrorOutput' });

		expect(fireBodies(box.sandbox)).toEqual([]);
		expect(errorMessage(result.errors[0])).toMatch(/^Invalid Entity ID ".*" in item 0$/);
		expect(details(result.errors[0]).description).toMatch(why);
	});

	test('a very long value is shortened in the message', async () => {
		const result = await fire([{ id: 'x'.repeat(10_000) }], { onError: 'continueErrorOutput' });

		expect((errorMessage(result.errors[0]) as string).length).toBeLessThan(100);
	});
});
