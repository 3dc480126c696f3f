import { apiError, details, errorMessage, FAST, json } from './helpers';
import { fireBodies, fireWith, useSandbox } from './sandboxRun';

const box = useSandbox();
const fire = fireWith(box);
const sentIds = () => fireBodies(box.sandbox).map((body) => body.entityId);

// Item 1 is refused by the API, item 2 fails the node's own check; 0 and 3 are good.
const items = [{ id: 10 }, { id: 666 }, { id: 'abc' }, { id: 13 }];
const apiRefusing666 = () =>
	box.sandbox.injectFault({
		kind: 'error',
		status: 403,
		body: apiError('BITRIX_ACCESS_DENIED', 'Доступ запрещён'),
		times: Infinity,
		match: { path: '/v1/triggers/fire', entityId: '666' },
	});

describe('On Error', () => {
	test('Continue (using error output): failures go to the error output with their details', async () => {
		apiRefusing666();
		const result = await fire(items, { onError: 'continueErrorOutput' });

		expect(result.error).toBeUndefined();
		expect(sentIds()).toEqual([10, 666, 13]);
		expect(json(result.main).map((item) => item.entityId)).toEqual([10, 13]);
		expect(result.main.length + result.errors.length).toBe(items.length);
		expect(result.errors.map((item) => item.pairedItem)).toEqual([{ item: 1 }, { item: 2 }]);
		// n8n adds the input item's fields to an item on the error output.
		expect(Object.keys(result.errors[0].json).sort()).toEqual(['error', 'id']);
		expect(details(result.errors[0])).toMatchObject({
			message: 'Bitrix24 denied access to this record',
			code: 'BITRIX_ACCESS_DENIED',
			httpCode: 403,
			hint: 'Check that the user behind the key may edit this record in Bitrix24.',
			entityType: 'deal',
			entityId: 666,
			triggerId: 'payment_received',
		});
		expect(details(result.errors[0]).description).toContain('Vibecode said: "Доступ запрещён"');
		expect(errorMessage(result.errors[1])).toBe('Invalid Entity ID "abc" in item 2');
		expect(details(result.errors[1]).entityId).toBe('abc');
	});

	test('Continue (regular output): the same error items stay on the main output, in order', async () => {
		apiRefusing666();
		const result = await fire(items, { onError: 'continueRegularOutput' });

		expect(result.error).toBeUndefined();
		expect(result.errors).toEqual([]);
		expect(result.main.map((item) => (item.json.error ? errorMessage(item) : item.json.entityId))).toEqual([
			10,
			'Bitrix24 denied access to this record',
			'Invalid Entity ID "abc" in item 2',
			13,
		]);
	});

	test('Stop: the first failure stops the run; nothing starts after it, and the error says what became of the rest', async () => {
		apiRefusing666();
		const result = await fire([{ id: 10 }, { id: 666 }, { id: 12 }, { id: 13 }], {
			onError: 'stopWorkflow',
			options: { ...FAST, maxConcurrent: 1 },
		});

		expect(sentIds()).toEqual([10, 666]);
		expect(result.error?.message).toBe('Bitrix24 denied access to this record');
		expect(result.error?.description).toMatch(/^Check that the user behind the key may edit this record/);
		expect(result.error?.description).toMatch(/Fired before the stop: item 0\. Not sent: items 2–3\. Retrying this execution \(Retry in the executions list\) sends every item again, including those that fired or may have fired; so does a Retry after n8n stopped in the middle of a run \(a crash, a restart, a deploy\)\. To make a retry fire only what was not sent, turn on the option "Fire Once Across Executions"\.$/);
		expect((result.error as { httpCode?: string }).httpCode).toBe('403');
		expect(result.error?.context?.itemIndex).toBe(1);
	});

	test('Stop: an item that fails its check stops the run before anything is sent', async () => {
		const result = await fire([{ id: 1 }, { id: 'abc' }, { id: 3 }], { onError: 'stopWorkflow' });

		expect(result.error?.message).toBe('Invalid Entity ID "abc" in item 1');
		expect(result.error?.description).toMatch(/whole number/);
		expect(sentIds()).toEqual([]);
	});
});
