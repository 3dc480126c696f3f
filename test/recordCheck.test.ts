import { details, errorMessage, FAST, fireParameters, toolFailure } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { callAsTool, TOOL_PATHS } from './hostile/agentRun';
import { freshKey } from './hostile/support';
import { fireAt, SEEDED, useSandbox } from './sandboxRun';
import { DEFAULT_TRIGGERS, type Sandbox } from './sandbox/server';

// Bitrix24 accepts a fire for a record that does not exist and runs nothing: the node looks the
// records up first (one search per up to 50 IDs of a type), and says what Bitrix24 refuses.
useVirtualClock();
const box = useSandbox();
/** FAST turns the check off for the other suites; here it is on, as by default. */
const CHECKING = { ...FAST, checkRecords: true };
afterEach(() => box.sandbox.restoreRecords());

const searches = (sandbox: Sandbox) => sandbox.requests.filter((r) => /^\/v1\/\w+\/search$/.test(r.path));
const fireRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers/fire');
const sentIds = (sandbox: Sandbox) => fireRequests(sandbox).map((r) => (r.body as { entityId: number }).entityId);
const firedIds = (sandbox: Sandbox) => sandbox.fires.map((f) => Number(f.entityId));
const listRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers');
const appKey = () => freshKey(box.sandbox, { prefix: 'vibe_app_' });
const personal = () => freshKey(box.sandbox);
const ids = (...list: number[]) => list.map((id) => ({ id }));
/** What the search asked about: the IDs in its `$in` filter. */
const askedIds = (request: { body: unknown }) => (request.body as { filter: { id: { $in: number[] } } }).filter.id.$in;

describe('Check Records Exist', () => {
	test('a missing record among good ones, error output: it fails naming the record and item, unsent; the others fire', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(5141, 5142, 99999, 5143), { options: CHECKING, apiKey: personal(), onError: 'continueErrorOutput' });

		expect(result.main.map((item) => item.json.entityId)).toEqual([5141, 5142, 5143]);
		expect(result.errors.map(errorMessage)).toEqual(['Deal 99999 does not exist in Bitrix24 (item 2)']);
		expect(details(result.errors[0])).toMatchObject({ code: 'RECORD_NOT_FOUND', entityType: 'deal', entityId: 99999, httpCode: null });
		expect(details(result.errors[0]).description).toMatch(/^Nothing was sent for this item\./);
		expect(result.errors[0].pairedItem).toEqual({ item: 2 });
		expect(sentIds(box.sandbox)).toEqual([5141, 5142, 5143]);
		// One search for the four deals, before any fire.
		expect(searches(box.sandbox)).toHaveLength(1);
		expect(box.sandbox.requests.findIndex((r) => r.path === '/v1/deals/search')).toBe(0);
		expect(askedIds(searches(box.sandbox)[0]).sort()).toEqual([5141, 5142, 5143, 99999].sort());
	});

	test('regular output: the failed item stays in its place', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(5141, 99999, 5143), { options: CHECKING, apiKey: personal(), onError: 'continueRegularOutput' });

		expect(result.main.map((item) => (item.json.error ? 'failed' : item.json.entityId))).toEqual([5141, 'failed', 5143]);
		expect(sentIds(box.sandbox)).toEqual([5141, 5143]);
	});

	test('"On Error: Stop": nothing at all is sent', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(5141, 99999, 5143), { options: CHECKING, apiKey: personal() });

		expect(result.error?.message).toBe('Deal 99999 does not exist in Bitrix24 (item 1)');
		expect(result.error?.description).toMatch(/Not sent: items 0, 2\./);
		expect(fireRequests(box.sandbox)).toHaveLength(0);
	});

	test('120 records of one type are checked in three searches of at most 50', async () => {
		const many = Array.from({ length: 120 }, (_, i) => ({ id: 1000 + i }));
		const result = await fireAt(box.sandbox, many, { options: CHECKING, apiKey: personal() });

		expect(result.error).toBeUndefined();
		expect(result.main).toHaveLength(120);
		const asked = searches(box.sandbox).map(askedIds);
		expect(asked.map((list) => list.length).sort()).toEqual([20, 50, 50]);
		expect(asked.flat().sort()).toEqual(many.map((item) => item.id).sort());
		expect(firedIds(box.sandbox).sort()).toEqual(many.map((item) => item.id).sort());
	});

	test('mixed entity types: one search per type', async () => {
		box.sandbox.removeRecord('lead', 303);
		const items = [
			{ type: 'deal', id: 5141 },
			{ type: 'lead', id: 301 },
			{ type: 'contact', id: 11 },
			{ type: 'lead', id: 303 },
		];
		const result = await fireAt(box.sandbox, items, {
			options: CHECKING,
			apiKey: personal(),
			entityType: '={{ $json.type }}',
			onError: 'continueErrorOutput',
		});

		expect(result.errors.map(errorMessage)).toEqual(['Lead 303 does not exist in Bitrix24 (item 3)']);
		expect(searches(box.sandbox).map((r) => r.path).sort()).toEqual(['/v1/contacts/search', '/v1/deals/search', '/v1/leads/search']);
		expect(fireRequests(box.sandbox).map((r) => (r.body as { entityType: string }).entityType)).toEqual(['deal', 'lead', 'contact']);
	});

	test.each([
		['a 502 page', { kind: 'html502' as const }],
		['a refusal', { kind: 'error' as const, status: 403, body: { success: false, error: { code: 'SCOPE_DENIED', message: 'No CRM scope' } } }],
		['malformed JSON', { kind: 'malformed' as const }],
	])('a search that fails (%s) stops nothing: the fires go unchecked', async (_, fault) => {
		box.sandbox.removeRecord('deal', 99999);
		box.sandbox.injectFault({ ...fault, times: Infinity, match: { path: '/v1/deals/search' } });
		const result = await fireAt(box.sandbox, ids(5141, 99999), { options: CHECKING, apiKey: personal() });

		expect(result.error).toBeUndefined();
		expect(sentIds(box.sandbox)).toEqual([5141, 99999]);
		// Bitrix24 answered true for 99999 and ran nothing: the node could not know.
		expect(box.sandbox.ignoredFires.map((f) => Number(f.entityId))).toEqual([99999]);
	});

	test('turned off: no search, and a missing record is fired as before (Bitrix24 accepts it)', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(99999), { apiKey: personal(), options: { ...FAST, checkRecords: false } });

		expect(result.main.map((item) => item.json)).toEqual([{ success: true, entityType: 'deal', entityId: 99999, triggerId: 'payment_received' }]);
		expect(searches(box.sandbox)).toHaveLength(0);
		expect(box.sandbox.ignoredFires).toHaveLength(1);
	});
});

describe("What Bitrix24 refuses reads clearly", () => {
	test('an unregistered code with the code check off: the status and code Vibecode sent are kept, and it says nothing fired', async () => {
		const result = await fireAt(box.sandbox, ids(5141), {
			apiKey: appKey(),
			sessionToken: SEEDED.session,
			trigger: 'paymnt_received',
			options: { ...FAST, checkTriggerCodes: false },
			onError: 'continueErrorOutput',
		});

		expect(errorMessage(result.errors[0])).toBe('The trigger code is not registered for this application');
		expect(details(result.errors[0])).toMatchObject({ code: 'BITRIX_ERROR', httpCode: 422 });
		expect(details(result.errors[0]).description).toMatch(/so nothing was fired/);
		expect(details(result.errors[0]).description).toMatch(/Trigger with code paymnt_received is not registered/);
		expect(box.sandbox.fires).toHaveLength(0);
	});

	test('the same refusal as a 400 reads the same, and names the closest codes when the node knows the list', async () => {
		box.sandbox.setUnregisteredCode({ status: 400, code: 'BITRIX_ERROR' });
		try {
			// The code check reads (and remembers) the list; a stale list would let the code through.
			const apiKey = appKey();
			const run = async (trigger: string) =>
				await fireAt(box.sandbox, ids(5141), { options: CHECKING, apiKey, sessionToken: SEEDED.session, trigger, onError: 'continueErrorOutput' });
			await run('payment_received');
			box.sandbox.setTriggers([{ NAME: 'Payment received', CODE: 'payment_received' }]);
			box.sandbox.reset();
			const result = await run('delivery_confirmed');

			// The remembered list has the code, so the check let it through; Bitrix24 refused it.
			expect(errorMessage(result.errors[0])).toBe('The trigger code is not registered for this application');
			expect(details(result.errors[0])).toMatchObject({ code: 'BITRIX_ERROR', httpCode: 400 });
			expect(details(result.errors[0]).description).toMatch(/Registered trigger codes, closest first: .*payment_received \(Payment received\)/);
			expect(details(result.errors[0]).description).not.toMatch(/closest first: .*delivery_confirmed/);
			// That list was out of date: the next run reads it again.
			box.sandbox.reset();
			await run('payment_received');
			expect(listRequests(box.sandbox)).toHaveLength(1);
		} finally {
			box.sandbox.setUnregisteredCode({ status: 422, code: 'BITRIX_ERROR' });
			box.sandbox.setTriggers([...DEFAULT_TRIGGERS]);
		}
	});

	test('"Application context required" on a fire says an application key is needed, not rights on the record', async () => {
		box.sandbox.injectFault({
			kind: 'error',
			status: 403,
			body: { success: false, error: { code: 'BITRIX_ACCESS_DENIED', message: 'Access denied! Application context required' } },
			match: { path: '/v1/triggers/fire' },
		});
		const result = await fireAt(box.sandbox, ids(5141), { options: CHECKING, apiKey: personal(), onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('Firing a trigger needs an OAuth application key');
		expect(details(result.errors[0]).description).toMatch(/not about the user's rights on the record/);
		expect(details(result.errors[0])).toMatchObject({ code: 'BITRIX_ACCESS_DENIED', httpCode: 403 });
	});
});

describe('The trigger list', () => {
	test('is remembered per credential: at steady state a one-item run costs two requests, the record check and the fire', async () => {
		const apiKey = appKey();
		const once = async () => await fireAt(box.sandbox, ids(5141), { options: CHECKING, apiKey, sessionToken: SEEDED.session });
		await once();
		expect(listRequests(box.sandbox)).toHaveLength(1);
		box.sandbox.reset();

		const result = await once();
		expect(result.error).toBeUndefined();
		expect(box.sandbox.requests.map((r) => r.path)).toEqual(['/v1/deals/search', '/v1/triggers/fire']);
	});

	test('is read again when a code is not on the remembered list: a trigger registered a moment ago passes', async () => {
		const apiKey = appKey();
		await fireAt(box.sandbox, ids(5141), { options: CHECKING, apiKey, sessionToken: SEEDED.session });
		box.sandbox.setTriggers([
			{ NAME: 'Payment received', CODE: 'payment_received' },
			{ NAME: 'Brand new', CODE: 'brand_new' },
		]);
		box.sandbox.reset();
		try {
			const result = await fireAt(box.sandbox, ids(5141), { options: CHECKING, apiKey, sessionToken: SEEDED.session, trigger: 'brand_new' });

			expect(result.error).toBeUndefined();
			expect(listRequests(box.sandbox)).toHaveLength(1);
			expect(box.sandbox.fires.map((f) => f.triggerId)).toEqual(['brand_new']);
		} finally {
			box.sandbox.setTriggers([...DEFAULT_TRIGGERS]);
		}
	});

	test('refused for the session (401 TOKEN_EXPIRED): the items fail with that reason, and no fire is sent', async () => {
		box.sandbox.injectFault({
			kind: 'error',
			status: 401,
			body: { success: false, error: { code: 'TOKEN_EXPIRED', message: 'Session expired' } },
			times: Infinity,
			match: { path: '/v1/triggers' },
		});
		const result = await fireAt(box.sandbox, ids(5141, 5142), { options: CHECKING, apiKey: appKey(), sessionToken: SEEDED.session, onError: 'continueErrorOutput' });

		expect(result.errors.map(errorMessage)).toEqual(['The Bitrix24 user session has expired', 'The Bitrix24 user session has expired']);
		expect(details(result.errors[0])).toMatchObject({ code: 'TOKEN_EXPIRED', httpCode: 401 });
		expect(fireRequests(box.sandbox)).toHaveLength(0);
	});
});

describe.each(TOOL_PATHS)('As an AI tool (%s path)', (path) => {
	test('each call is checked: a missing record is answered "not fired", an existing one fires', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const { results } = await callAsTool({
			parameters: fireParameters({ entityId: "={{ $fromAI('entityId', 'The ID of the deal', 'number') }}", options: CHECKING }),
			path,
			calls: [{ entityId: 99999 }, { entityId: 5141 }],
			credentials: { apiKey: personal(), baseUrl: box.sandbox.url },
		});

		expect(results[0].items?.[0]).toMatchObject({ success: false, fired: 'no', entityId: 99999 });
		expect(toolFailure(results[0])).toMatchObject({ message: 'Deal 99999 does not exist in Bitrix24 (item 0)', code: 'RECORD_NOT_FOUND' });
		expect(results[1].items).toEqual([{ success: true, entityType: 'deal', entityId: 5141, triggerId: 'payment_received' }]);
		expect(searches(box.sandbox)).toHaveLength(2);
		expect(sentIds(box.sandbox)).toEqual([5141]);
	});
});
