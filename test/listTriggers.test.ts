import { FAST, listParameters } from './helpers';
import { callAsTool, TOOL_PATHS } from './hostile/agentRun';
import { runWorkflow } from './harness/runWorkflow';
import { searchList } from './harness/searchList';
import { SEEDED, useSandbox } from './sandboxRun';

const box = useSandbox();
const app = () => ({ apiKey: SEEDED.app, sessionToken: SEEDED.session, baseUrl: box.sandbox.url });
const personal = () => ({ apiKey: SEEDED.personal, baseUrl: box.sandbox.url });

describe('List Triggers', () => {
	test('outputs one item per trigger with NAME and CODE', async () => {
		box.sandbox.setTriggers([
			{ NAME: 'Payment received', CODE: 'payment_received' },
			{ NAME: 'Delivery confirmed', CODE: 'delivery_confirmed' },
		]);
		const result = await runWorkflow({ parameters: listParameters(), credentials: app() });

		expect(result.main.map((item) => item.json)).toEqual([
			{ NAME: 'Payment received', CODE: 'payment_received' },
			{ NAME: 'Delivery confirmed', CODE: 'delivery_confirmed' },
		]);
		expect(result.main.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 0 }]);
		expect(box.sandbox.requests).toMatchObject([{ method: 'GET', path: '/v1/triggers', authScheme: 'Bearer' }]);
	});

	test('an expired session says to re-authorize', async () => {
		const result = await runWorkflow({
			parameters: listParameters(FAST),
			credentials: { ...app(), sessionToken: SEEDED.expiredSession },
		});

		expect(result.error?.message).toBe('The Bitrix24 user session has expired');
	});
});

describe('Trigger "From List"', () => {
	test('lists the triggers, searchable by name and by code', async () => {
		box.sandbox.setTriggers([
			{ NAME: 'Payment received', CODE: 'payment_received' },
			{ NAME: 'Delivery confirmed', CODE: 'delivery_confirmed' },
			{ NAME: 'Contract signed', CODE: 'contract.signed-v2' },
		]);
		expect((await searchList('searchTriggers', app())).results).toEqual([
			{ name: 'Payment received (payment_received)', value: 'payment_received' },
			{ name: 'Delivery confirmed (delivery_confirmed)', value: 'delivery_confirmed' },
			{ name: 'Contract signed (contract.signed-v2)', value: 'contract.signed-v2' },
		]);
		expect((await searchList('searchTriggers', app(), 'DELIVERY')).results).toEqual([
			{ name: 'Delivery confirmed (delivery_confirmed)', value: 'delivery_confirmed' },
		]);
		expect((await searchList('searchTriggers', app(), 'signed-v')).results).toEqual([
			{ name: 'Contract signed (contract.signed-v2)', value: 'contract.signed-v2' },
		]);
	});

	test('with a personal key it fails with an explanation pointing to "By Code"', async () => {
		await expect(searchList('searchTriggers', personal())).rejects.toMatchObject({
			message: 'Listing triggers needs an OAuth application key',
			description: expect.stringMatching(/type the trigger code: .*switch from "From List" to "By Code"\./),
		});
	});
});

describe.each(TOOL_PATHS)('List Triggers as an AI tool (%s path)', (path) => {
	test('lists the triggers for the model', async () => {
		box.sandbox.setTriggers([{ NAME: 'Payment received', CODE: 'payment_received' }]);
		const { results } = await callAsTool({ parameters: listParameters(FAST), path, calls: [{}], credentials: app() });

		expect(results[0].items).toEqual([{ NAME: 'Payment received', CODE: 'payment_received' }]);
	});

	test('a refusal answers the model with the reason, and the agent goes on', async () => {
		const { results, run } = await callAsTool({ parameters: listParameters(FAST), path, calls: [{}], credentials: personal() });

		expect(results[0].items).toEqual([
			{
				success: false,
				failure: expect.objectContaining({
					message: 'Listing triggers needs an OAuth application key',
					code: 'BITRIX_ACCESS_DENIED',
					httpCode: 403,
				}),
			},
		]);
		expect(run.data.resultData.error).toBeUndefined();
	});
});
