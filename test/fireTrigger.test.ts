import { API, APP_KEY, fire as fireAtApi, json, loadNock, PERSONAL_KEY, recordFireHeaders, SESSION } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { fireBodies, fireWith, useSandbox } from './sandboxRun';

// The node's waits (pacing) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();
const fire = fireWith(box);

describe('Fire Trigger', () => {
	test('sends the documented request and outputs one item per input item', async () => {
		const result = await fire([{ id: 5141 }, { id: '5142' }]);

		expect(result.error).toBeUndefined();
		expect(fireBodies(box.sandbox)).toEqual([
			{ entityType: 'deal', entityId: 5141, triggerId: 'payment_received' },
			{ entityType: 'deal', entityId: 5142, triggerId: 'payment_received' },
		]);
		expect(json(result.main)).toEqual([
			{ success: true, entityType: 'deal', entityId: 5141, triggerId: 'payment_received' },
			{ success: true, entityType: 'deal', entityId: 5142, triggerId: 'payment_received' },
		]);
		expect(result.main.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
	});

	test('a base URL with a trailing slash is tolerated', async () => {
		const result = await fire([{ id: 1 }], { baseUrl: `${box.sandbox.url}/` });

		expect(result.error).toBeUndefined();
		expect(fireBodies(box.sandbox)).toHaveLength(1);
	});

	test.each([
		['deal', 'https://acme.bitrix24.com/crm/deal/details/5141/', 5141],
		['lead', 'https://acme.bitrix24.de/crm/lead/details/77/?IFRAME=Y', 77],
		['contact', '/crm/contact/details/12/', 12],
		['company', 'https://acme.bitrix24.ru/crm/company/details/9', 9],
		['quote', 'https://acme.bitrix24.com/crm/type/7/details/3/', 3],
		['invoice', 'https://acme.bitrix24.com/crm/type/31/details/41/#tab', 41],
		['quote', 'https://acme.bitrix24.com/crm/quote/show/8/', 8],
	])('a %s record link gives its ID (%s)', async (entityType, link, id) => {
		const result = await fire([{}], { entityType, mode: 'url', entityId: link });

		expect(result.error).toBeUndefined();
		expect(fireBodies(box.sandbox)).toEqual([{ entityType, entityId: id, triggerId: 'payment_received' }]);
	});

	test('the trigger code can come from an expression and is trimmed', async () => {
		await fire([{ id: 1, code: ' delivery_confirmed ' }], { trigger: '={{ $json.code }}' });

		expect(fireBodies(box.sandbox)[0].triggerId).toBe('delivery_confirmed');
	});

	test('an Entity ID picked from the list (mode "list") is sent as its number', async () => {
		const result = await fire([{}], { mode: 'list', entityId: '5041' });

		expect(result.error).toBeUndefined();
		expect(fireBodies(box.sandbox)).toEqual([{ entityType: 'deal', entityId: 5041, triggerId: 'payment_received' }]);
	});

	test('a workflow saved before the Trigger mode "id" was renamed "code" still fires', async () => {
		const result = await fire([{ id: 5141 }, { id: 5142, code: 'delivery_confirmed' }], {
			triggerMode: 'id',
			trigger: '={{ $json.code ?? "payment_received" }}',
		});

		expect(result.error).toBeUndefined();
		expect(fireBodies(box.sandbox)).toEqual([
			{ entityType: 'deal', entityId: 5141, triggerId: 'payment_received' },
			{ entityType: 'deal', entityId: 5142, triggerId: 'delivery_confirmed' },
		]);
		expect(json(result.main)).toHaveLength(2);
	});

	test('an entity type from an expression is normalized', async () => {
		await fire([{ id: 1, type: 'Lead' }], { entityType: '={{ $json.type }}' });

		expect(fireBodies(box.sandbox)[0].entityType).toBe('lead');
	});
});

// nock: these assert the raw X-Api-Key and Authorization header bytes, which the sandbox's request log redacts.
describe('Fire Trigger, the credential on the wire', () => {
	// Loaded only here, so the tests above reach the sandbox without nock in the way.
	afterEach(() => loadNock().cleanAll());

	test('a personal key sends X-Api-Key and no Authorization header at all', async () => {
		const headers = recordFireHeaders();
		await fireAtApi([{ id: 1 }], { credentials: { apiKey: PERSONAL_KEY, sessionToken: '' } });

		expect(headers[0]['x-api-key']).toBe(PERSONAL_KEY);
		expect(headers[0]).not.toHaveProperty('authorization');
		expect(headers[0]['content-type']).toMatch(/^application\/json/);
	});

	test('an application key sends its session token as a Bearer token, also for the trigger code check', async () => {
		const headers = recordFireHeaders();
		const list: Array<string | undefined> = [];
		loadNock()(API)
			.get('/v1/triggers')
			.reply(function () {
				list.push(this.req.headers.authorization as string | undefined);
				return [200, { success: true, data: [{ NAME: 'Payment received', CODE: 'payment_received' }] }];
			});
		const result = await fireAtApi([{ id: 1 }], { credentials: { apiKey: APP_KEY, sessionToken: SESSION } });

		expect(result.error).toBeUndefined();
		expect(list).toEqual([`Bearer ${SESSION}`]);
		expect(headers[0]['x-api-key']).toBe(APP_KEY);
		expect(headers[0].authorization).toBe(`Bearer ${SESSION}`);
	});
});
