import { closest, levenshtein } from '../nodes/Bitrix24Vibecode/shared/closest';
import { details, errorMessage, FAST, fireParameters } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { callAsTool, TOOL_PATHS } from './hostile/agentRun';
import { freshKey } from './hostile/support';
import { fireAt, SEEDED, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

// Bitrix24 answers success to a fire of any code: with an application key, Fire Trigger checks
// each item's code against the application's triggers (one list per run) before sending.
useVirtualClock();
const box = useSandbox();

const appKey = () => freshKey(box.sandbox, { prefix: 'vibe_app_' });
const listRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers');
const sentCodes = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => (r.body as { triggerId: unknown }).triggerId);
const fromItem = { trigger: '={{ $json.code }}' };
const threeItems = [
	{ id: 1, code: 'payment_received' },
	{ id: 2, code: 'paymnt_received' },
	{ id: 3, code: 'delivery_confirmed' },
];

describe('Fire Trigger with an application key checks the trigger codes', () => {
	test('a mistyped code fails with the closest registered code first and is not sent; one trigger list for the run', async () => {
		const result = await fireAt(box.sandbox, threeItems, {
			...fromItem,
			apiKey: appKey(),
			sessionToken: SEEDED.session,
			onError: 'continueErrorOutput',
		});

		expect(result.errors.map(errorMessage)).toEqual(['Unknown Trigger "paymnt_received" in item 1']);
		const error = details(result.errors[0]);
		expect(error.description).toMatch(/closest first: payment_received \(Payment received\), /);
		expect(error.description).toMatch(/so it was not sent: Bitrix24 refuses a code the application did not register/);
		expect(error).toMatchObject({ entityType: 'deal', entityId: 2, triggerId: 'paymnt_received' });
		expect(result.errors[0].pairedItem).toEqual({ item: 1 });
		expect(result.main.map((item) => item.json.triggerId)).toEqual(['payment_received', 'delivery_confirmed']);
		expect(sentCodes(box.sandbox)).toEqual(['payment_received', 'delivery_confirmed']);
		expect(listRequests(box.sandbox)).toHaveLength(1);
		expect(listRequests(box.sandbox)[0].authScheme).toBe('Bearer');
	});

	test('"On Error: Stop": the run stops before anything is sent', async () => {
		const result = await fireAt(box.sandbox, threeItems, { ...fromItem, apiKey: appKey(), sessionToken: SEEDED.session });

		expect(result.error?.message).toBe('Unknown Trigger "paymnt_received" in item 1');
		expect(result.error?.description).toMatch(/payment_received/);
		expect(sentCodes(box.sandbox)).toEqual([]);
		expect(listRequests(box.sandbox)).toHaveLength(1);
	});

	test('every code known: all fire, after one trigger list request', async () => {
		const items = [1, 2, 3].map((id) => ({ id, code: id === 2 ? 'contract.signed-v2' : 'payment_received' }));
		const result = await fireAt(box.sandbox, items, { ...fromItem, apiKey: appKey(), sessionToken: SEEDED.session });

		expect(result.error).toBeUndefined();
		expect(sentCodes(box.sandbox)).toEqual(['payment_received', 'contract.signed-v2', 'payment_received']);
		expect(box.sandbox.requests.map((r) => r.path)[0]).toBe('/v1/triggers');
		expect(listRequests(box.sandbox)).toHaveLength(1);
	});

	test('the check turned off sends the unknown code and asks for no list; Bitrix24 refuses it', async () => {
		const result = await fireAt(box.sandbox, threeItems, {
			...fromItem,
			apiKey: appKey(),
			sessionToken: SEEDED.session,
			options: { ...FAST, checkTriggerCodes: '={{ "false" }}' },
			onError: 'continueErrorOutput',
		});

		expect(sentCodes(box.sandbox)).toEqual(['payment_received', 'paymnt_received', 'delivery_confirmed']);
		expect(listRequests(box.sandbox)).toHaveLength(0);
		expect(result.errors.map(errorMessage)).toEqual(['The trigger code is not registered for this application']);
		expect(result.main).toHaveLength(2);
	});

	test('a personal key makes no list request and sends every code', async () => {
		const result = await fireAt(box.sandbox, threeItems, { ...fromItem, apiKey: freshKey(box.sandbox), sessionToken: SEEDED.session });

		expect(result.error).toBeUndefined();
		expect(sentCodes(box.sandbox)).toEqual(['payment_received', 'paymnt_received', 'delivery_confirmed']);
		expect(listRequests(box.sandbox)).toHaveLength(0);
	});

	test('an application key without a session token makes no list request', async () => {
		const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey: appKey(), onError: 'continueErrorOutput' });

		expect(listRequests(box.sandbox)).toHaveLength(0);
		expect(errorMessage(result.errors[0])).toBe('The API key has no active Bitrix24 session');
	});

	test.each([
		['a 502 page', { kind: 'html502' as const }],
		['a 403', { kind: 'error' as const, status: 403, body: { success: false, error: { code: 'BITRIX_ACCESS_DENIED', message: 'x' } } }],
		['malformed JSON', { kind: 'malformed' as const }],
	])('a failing trigger list (%s) does not block the fires: they go unchecked', async (_, fault) => {
		box.sandbox.injectFault({ ...fault, times: Infinity, match: { path: '/v1/triggers' } });
		const result = await fireAt(box.sandbox, threeItems, {
			...fromItem,
			apiKey: appKey(),
			sessionToken: SEEDED.session,
			onError: 'continueErrorOutput',
		});

		expect(listRequests(box.sandbox).map((r) => r.fault)).toContain(fault.kind);
		expect(sentCodes(box.sandbox)).toEqual(['payment_received', 'paymnt_received', 'delivery_confirmed']);
		// Unchecked, the mistyped code reached Bitrix24, which refused it.
		expect(result.main).toHaveLength(2);
		expect(result.errors.map(errorMessage)).toEqual(['The trigger code is not registered for this application']);
	});

	test('an application with no triggers: every code is unknown, and the error says so', async () => {
		box.sandbox.setTriggers([]);
		try {
			const result = await fireAt(box.sandbox, [{ id: 1 }], { apiKey: appKey(), sessionToken: SEEDED.session });

			expect(result.error?.message).toBe('Unknown Trigger "payment_received" in item 0');
			expect(result.error?.description).toMatch(/registered no triggers/);
			expect(sentCodes(box.sandbox)).toEqual([]);
		} finally {
			box.sandbox.setTriggers([
				{ NAME: 'Payment received', CODE: 'payment_received' },
				{ NAME: 'Delivery confirmed', CODE: 'delivery_confirmed' },
				{ NAME: 'Contract signed', CODE: 'contract.signed-v2' },
			]);
		}
	});
});

describe.each(TOOL_PATHS)('As an AI tool (%s path)', (path) => {
	const parameters = fireParameters({
		entityId: "={{ $fromAI('entityId', 'The ID of the CRM record', 'number') }}",
		trigger: "={{ $fromAI('trigger', 'The trigger code', 'string') }}",
		options: FAST,
	});

	test('an unknown code is answered as a failure, not fired; a known one fires', async () => {
		const credentials = { apiKey: appKey(), sessionToken: SEEDED.session, baseUrl: box.sandbox.url };
		const { results } = await callAsTool({
			parameters,
			path,
			calls: [
				{ entityId: 5, trigger: 'paymnt_received' },
				{ entityId: 6, trigger: 'delivery_confirmed' },
			],
			credentials,
		});

		expect(results[0].items).toEqual([
			{
				success: false,
				fired: 'no',
				failure: expect.objectContaining({ message: 'Unknown Trigger "paymnt_received" in item 0', code: 'INVALID_PARAMETER' }),
				entityType: 'deal',
				entityId: 5,
				triggerId: 'paymnt_received',
			},
		]);
		expect(results[1].items).toEqual([{ success: true, entityType: 'deal', entityId: 6, triggerId: 'delivery_confirmed' }]);
		expect(sentCodes(box.sandbox)).toEqual(['delivery_confirmed']);
		// The first call reads the list; the second finds it remembered for the credential.
		expect(listRequests(box.sandbox)).toHaveLength(1);
	});
});

describe('suggestions', () => {
	const registered = ['delivery_confirmed', 'payment_received', 'payment_refunded', 'deal_won'].map((code) => ({ code, name: '' }));

	test('edit distance', () => {
		expect(levenshtein('paymnt_received', 'payment_received')).toBe(1);
		expect(levenshtein('Payment_Received', 'payment_received')).toBe(0);
		expect(levenshtein('', 'abc')).toBe(3);
		expect(levenshtein('kitten', 'sitting')).toBe(3);
	});

	test('closest first, at most five', () => {
		expect(closest('paymnt_received', registered).map((t) => t.code)).toEqual([
			'payment_received',
			'payment_refunded',
			'delivery_confirmed',
			'deal_won',
		]);
		const many = Array.from({ length: 9 }, (_, i) => ({ code: `t${i}`, name: '' }));
		expect(closest('t', many)).toHaveLength(5);
	});
});
