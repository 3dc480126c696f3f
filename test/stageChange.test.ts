import type { IDataObject } from 'n8n-workflow';

import { details, errorMessage, FAST, fireParameters, RETRY_ON_FAIL, toolFailure } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { callAsTool, TOOL_PATHS } from './hostile/agentRun';
import { freshKey } from './hostile/support';
import { fireAt, SEEDED, useSandbox } from './sandboxRun';
import type { Sandbox } from './sandbox/server';

// Issue 24: what Bitrix24 did with each fire. Bitrix24 answers a fire with success also when its
// automation moved nothing; the node reads each fired record's stage before and after ("Report
// Stage Change", on by default), can fail an item whose record did not move ("When the Record Did
// Not Move"), and can rehearse a run, firing nothing ("Rehearse (Fire Nothing)").
// Oracle: the "What must be true", and the sandbox's pipelines (test/sandbox/README.md):
// "payment_received" moves a deal of the general pipeline to EXECUTING; deal 5143 is in pipeline
// C1, where it is not set, so a fire for 5143 moves nothing.
useVirtualClock();
const box = useSandbox();
afterEach(() => {
	box.sandbox.restoreRecords();
	box.sandbox.resetAutomation();
});

/** The defaults of the options under test (FAST turns them off for the other suites). */
const DEFAULTS = { ...FAST, checkRecords: true, reportStageChange: true };
const NOT_MOVED = /did not move: it is still at stage "C1:NEW"\. Likely reasons: the trigger is not set on this deal's pipeline or stage, its conditions are not met, or the deal is already at the trigger's stage or past it/;

const searches = (sandbox: Sandbox) => sandbox.requests.filter((r) => /^\/v1\/\w+\/search$/.test(r.path));
const fireRequests = (sandbox: Sandbox) => sandbox.requests.filter((r) => r.path === '/v1/triggers/fire');
const paths = (sandbox: Sandbox) => sandbox.requests.map((r) => r.path);
const ids = (...list: number[]) => list.map((id) => ({ id }));
const personal = () => freshKey(box.sandbox);
const deal = (entityId: number, triggerId = 'payment_received') => ({ entityType: 'deal', entityId, triggerId });

describe('Report Stage Change', () => {
	test('a record that moved and one that did not: both succeed, with the stages Bitrix24 reports; the one that did not says why in words', async () => {
		const result = await fireAt(box.sandbox, ids(5141, 5143), { options: DEFAULTS, apiKey: personal() });

		expect(result.error).toBeUndefined();
		expect(result.main.map((item) => item.json)).toEqual([
			{ success: true, ...deal(5141), stageBefore: 'NEW', stageAfter: 'EXECUTING', moved: true },
			{ success: true, ...deal(5143), stageBefore: 'C1:NEW', stageAfter: 'C1:NEW', moved: false, note: expect.stringMatching(NOT_MOVED) },
		]);
		expect(result.main[1].json.note).toMatch(/^Bitrix24 accepted the fire, but Deal 5143 did not move/);
		// The stage before in the record check's own search, the stage after in one search once the fires are answered.
		expect(paths(box.sandbox)).toEqual(['/v1/deals/search', '/v1/triggers/fire', '/v1/triggers/fire', '/v1/deals/search']);
		for (const search of searches(box.sandbox)) expect((search.body as IDataObject).select).toEqual(['id', 'stageId']);
		expect(box.sandbox.fires.map((f) => f.moved)).toEqual([true, false]);
	});

	test('a record already at the trigger\'s stage, or past it, did not move (automation never moves it back)', async () => {
		box.sandbox.setStage('deal', 5141, 'EXECUTING');
		box.sandbox.setStage('deal', 5142, 'WON');
		const result = await fireAt(box.sandbox, ids(5141, 5142), { options: DEFAULTS, apiKey: personal() });

		expect(result.main.map((item) => [item.json.stageBefore, item.json.stageAfter, item.json.moved])).toEqual([
			['EXECUTING', 'EXECUTING', false],
			['WON', 'WON', false],
		]);
		expect(result.main[1].json.note).toMatch(/still at stage "WON"/);
	});

	test('leads and quotes report statusId, invoices stageId; contacts and companies get no stage fields and no search', async () => {
		const items = [
			{ type: 'lead', id: 301 },
			{ type: 'quote', id: 7 },
			{ type: 'invoice', id: 41 },
			{ type: 'contact', id: 11 },
			{ type: 'company', id: 21 },
		];
		const result = await fireAt(box.sandbox, items, {
			options: { ...DEFAULTS, checkRecords: false },
			apiKey: personal(),
			entityType: '={{ $json.type }}',
		});

		expect(result.main.map((item) => item.json)).toEqual([
			{ success: true, entityType: 'lead', entityId: 301, triggerId: 'payment_received', stageBefore: 'NEW', stageAfter: 'PROCESSED', moved: true },
			// payment_received is not set on quotes.
			expect.objectContaining({ entityType: 'quote', stageBefore: 'DRAFT', stageAfter: 'DRAFT', moved: false, note: expect.stringMatching(/Quote 7 did not move/) }),
			expect.objectContaining({ entityType: 'invoice', stageBefore: 'DT31_1:N', stageAfter: 'DT31_1:P', moved: true }),
			{ success: true, entityType: 'contact', entityId: 11, triggerId: 'payment_received' },
			{ success: true, entityType: 'company', entityId: 21, triggerId: 'payment_received' },
		]);
		const selected = Object.fromEntries(searches(box.sandbox).map((r) => [r.path, (r.body as IDataObject).select]));
		expect(selected).toEqual({
			'/v1/leads/search': ['id', 'statusId'],
			'/v1/quotes/search': ['id', 'statusId'],
			'/v1/invoices/search': ['id', 'stageId'],
		});
	});

	test('with Check Records Exist off, the option still reads the stage before and after', async () => {
		const result = await fireAt(box.sandbox, ids(5141), { options: { ...DEFAULTS, checkRecords: false }, apiKey: personal() });

		expect(result.main[0].json).toMatchObject({ stageBefore: 'NEW', stageAfter: 'EXECUTING', moved: true });
		expect(paths(box.sandbox)).toEqual(['/v1/deals/search', '/v1/triggers/fire', '/v1/deals/search']);
	});

	test('turned off: no stage fields, and no search after the fires', async () => {
		const result = await fireAt(box.sandbox, ids(5141, 5143), { options: { ...DEFAULTS, reportStageChange: false }, apiKey: personal() });

		expect(result.main.map((item) => item.json)).toEqual([{ success: true, ...deal(5141) }, { success: true, ...deal(5143) }]);
		expect(paths(box.sandbox)).toEqual(['/v1/deals/search', '/v1/triggers/fire', '/v1/triggers/fire']);
	});

	test('cost: 120 deals take one extra search per up to 50 fired records (3), beside the option off', async () => {
		const many = Array.from({ length: 120 }, (_, i) => ({ id: 2000 + i }));
		const on = await fireAt(box.sandbox, many, { options: DEFAULTS, apiKey: personal() });
		const onRequests = box.sandbox.requests.length;
		const readBack = searches(box.sandbox).slice(3);
		box.sandbox.reset();
		await fireAt(box.sandbox, many, { options: { ...DEFAULTS, reportStageChange: false }, apiKey: personal() });
		const offRequests = box.sandbox.requests.length;

		expect(on.main.every((item) => item.json.moved === true)).toBe(true);
		expect(offRequests).toBe(123);
		expect(onRequests).toBe(126);
		expect(readBack.map((r) => (r.body as { filter: { id: { $in: number[] } } }).filter.id.$in.length).sort()).toEqual([20, 50, 50]);
	});

	test('when the read after fails, the items say the stage is unknown; nothing is fired again', async () => {
		// The fire answers late, so that the search after it can be made to fail once the fire is on its way.
		box.sandbox.injectFault({ kind: 'slow', delayMs: 300, match: { path: '/v1/triggers/fire' } });
		const run = fireAt(box.sandbox, ids(5141), { options: DEFAULTS, apiKey: personal() });
		await box.sandbox.arrival('/v1/triggers/fire');
		box.sandbox.injectFault({ kind: 'html502', times: Infinity, match: { path: '/v1/deals/search' } });
		const result = await run;

		expect(result.error).toBeUndefined();
		expect(result.main.map((item) => item.json)).toEqual([
			{
				success: true,
				...deal(5141),
				stageBefore: 'NEW',
				stageAfter: null,
				moved: null,
				note: expect.stringMatching(/the stage of Deal 5141 after the fire could not be read, so whether it moved is unknown.*not sent again/),
			},
		]);
		expect(fireRequests(box.sandbox)).toHaveLength(1);
		// The read is retried once, as every read is, and never stops the run.
		expect(searches(box.sandbox).length).toBeGreaterThanOrEqual(2);
	});
});

describe('When the Record Did Not Move: Fail the Item', () => {
	const FAIL = { ...DEFAULTS, whenNotMoved: 'fail' };

	test('error output: the record that did not move goes there with the reason; it was fired once; the one that moved stays on the main output', async () => {
		const result = await fireAt(box.sandbox, ids(5141, 5143), { options: FAIL, apiKey: personal(), onError: 'continueErrorOutput' });

		expect(result.main.map((item) => item.json)).toEqual([{ success: true, ...deal(5141), stageBefore: 'NEW', stageAfter: 'EXECUTING', moved: true }]);
		expect(result.errors.map(errorMessage)).toEqual(['Deal 5143 did not move (item 1)']);
		expect(details(result.errors[0])).toMatchObject({
			code: 'RECORD_NOT_MOVED',
			...deal(5143),
			stageBefore: 'C1:NEW',
			stageAfter: 'C1:NEW',
			moved: false,
		});
		expect(details(result.errors[0]).description).toMatch(NOT_MOVED);
		expect(details(result.errors[0]).description).toMatch(/The trigger was fired, so the item is not sent again/);
		expect(result.errors[0].pairedItem).toEqual({ item: 1 });
		expect(fireRequests(box.sandbox)).toHaveLength(2);
	});

	test('"On Error: Stop" stops the run with that message, and lists the item among those fired before the stop', async () => {
		const result = await fireAt(box.sandbox, ids(5141, 5143, 5144), { options: FAIL, apiKey: personal() });

		expect(result.error?.message).toBe('Deal 5143 did not move (item 1)');
		expect(result.error?.description).toMatch(/Fired before the stop: items 0–2\./);
		expect(result.error?.description).toMatch(/Retrying this execution .* sends every item again/);
		expect(fireRequests(box.sandbox)).toHaveLength(3);
	});

	test("n8n's Retry On Fail never resends it: every try ends the same, each record fired once", async () => {
		const stop = await fireAt(box.sandbox, ids(5143, 5141), {
			options: FAIL,
			apiKey: personal(),
			settings: RETRY_ON_FAIL,
		});
		expect(stop.error?.message).toBe('Deal 5143 did not move (item 0)');
		expect(fireRequests(box.sandbox).map((r) => (r.body as IDataObject).entityId)).toEqual([5143, 5141]);

		box.sandbox.reset();
		const regular = await fireAt(box.sandbox, ids(5143, 5141), {
			options: FAIL,
			apiKey: personal(),
			onError: 'continueRegularOutput',
			settings: RETRY_ON_FAIL,
		});
		expect(regular.main.map((item) => (item.json.error ? (item.json.error as IDataObject).code : item.json.moved))).toEqual(['RECORD_NOT_MOVED', true]);
		expect(fireRequests(box.sandbox)).toHaveLength(2);
	});
});

describe('Rehearse (Fire Nothing)', () => {
	const REHEARSE = { ...DEFAULTS, rehearse: true };

	test('every check runs and nothing is fired: a record that would fire says so with its stage now; a missing one fails as in a real run', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(5141, 99999, 5143), { options: REHEARSE, apiKey: personal(), onError: 'continueErrorOutput' });

		expect(result.main.map((item) => item.json)).toEqual([
			{ success: true, rehearsal: true, wouldFire: true, ...deal(5141), stageBefore: 'NEW' },
			{ success: true, rehearsal: true, wouldFire: true, ...deal(5143), stageBefore: 'C1:NEW' },
		]);
		expect(result.errors.map(errorMessage)).toEqual(['Deal 99999 does not exist in Bitrix24 (item 1)']);
		expect(details(result.errors[0]).code).toBe('RECORD_NOT_FOUND');
		expect(fireRequests(box.sandbox)).toHaveLength(0);
		expect(box.sandbox.fires).toHaveLength(0);
		expect(box.sandbox.stageOf('deal', 5141)).toBe('NEW');
		// The record check only: no read after, since nothing was fired.
		expect(paths(box.sandbox)).toEqual(['/v1/deals/search']);
	});

	test('"On Error: Stop": a record that would fail stops the rehearsal as it would stop the run', async () => {
		box.sandbox.removeRecord('deal', 99999);
		const result = await fireAt(box.sandbox, ids(5141, 99999), { options: REHEARSE, apiKey: personal() });

		expect(result.error?.message).toBe('Deal 99999 does not exist in Bitrix24 (item 1)');
		expect(fireRequests(box.sandbox)).toHaveLength(0);
	});

	test('an unknown trigger code fails as in a real run (the code check runs); invalid input too', async () => {
		const apiKey = freshKey(box.sandbox, { prefix: 'vibe_app_' });
		const result = await fireAt(box.sandbox, [{ id: 5141 }, { id: 'abc' }], {
			options: REHEARSE,
			apiKey,
			sessionToken: SEEDED.session,
			trigger: 'paymnt_received',
			onError: 'continueErrorOutput',
		});

		expect(result.errors.map(errorMessage).sort()).toEqual(['Invalid Entity ID "abc" in item 1', 'Unknown Trigger "paymnt_received" in item 0']);
		expect(result.main).toHaveLength(0);
		expect(fireRequests(box.sandbox)).toHaveLength(0);
	});

	test('a contact would fire without stage fields; with Check Records Exist and Report Stage Change off, nothing is searched', async () => {
		const result = await fireAt(box.sandbox, [{ id: 11 }], {
			options: { ...REHEARSE, checkRecords: false, reportStageChange: false },
			apiKey: personal(),
			entityType: 'contact',
		});

		expect(result.main.map((item) => item.json)).toEqual([
			{ success: true, rehearsal: true, wouldFire: true, entityType: 'contact', entityId: 11, triggerId: 'payment_received' },
		]);
		expect(box.sandbox.requests).toHaveLength(0);
	});

	test('a rehearsal changes nothing a later real run does: the real run fires every record, and Retry On Fail has nothing to recall', async () => {
		const apiKey = personal();
		await fireAt(box.sandbox, ids(5141, 5142), { options: REHEARSE, apiKey });
		const real = await fireAt(box.sandbox, ids(5141, 5142), { options: DEFAULTS, apiKey });

		expect(real.main.map((item) => item.json.moved)).toEqual([true, true]);
		expect(box.sandbox.fires.map((f) => Number(f.entityId))).toEqual([5141, 5142]);
	});
});

describe.each(TOOL_PATHS)('As an AI Agent tool (%s path)', (path) => {
	const parametersWith = (options: IDataObject) =>
		fireParameters({ entityId: "={{ $fromAI('entityId', 'The ID of the deal', 'number') }}", options });
	const call = async (options: IDataObject, entityId: number) =>
		await callAsTool({ parameters: parametersWith(options), path, calls: [{ entityId }], credentials: { apiKey: personal(), baseUrl: box.sandbox.url } });

	test('the answer carries moved and the stages, so the model can say what happened', async () => {
		const moved = await call(DEFAULTS, 5141);
		const stayed = await call(DEFAULTS, 5143);

		expect(moved.results[0].items).toEqual([{ success: true, ...deal(5141), stageBefore: 'NEW', stageAfter: 'EXECUTING', moved: true }]);
		expect(stayed.results[0].items).toEqual([
			{ success: true, ...deal(5143), stageBefore: 'C1:NEW', stageAfter: 'C1:NEW', moved: false, note: expect.stringMatching(NOT_MOVED) },
		]);
	});

	test('with Fail the Item, the answer says it fired ("fired": "yes"), that it did not move, and why', async () => {
		const { results } = await call({ ...DEFAULTS, whenNotMoved: 'fail' }, 5143);

		expect(results[0].items?.[0]).toMatchObject({ success: false, fired: 'yes', ...deal(5143), stageBefore: 'C1:NEW', stageAfter: 'C1:NEW', moved: false });
		expect(toolFailure(results[0])).toMatchObject({ message: 'Deal 5143 did not move (item 0)', code: 'RECORD_NOT_MOVED' });
		expect(fireRequests(box.sandbox)).toHaveLength(1);
	});

	test('a rehearsal is available to the tool: it answers what would fire and fires nothing', async () => {
		const { results } = await call({ ...DEFAULTS, rehearse: true }, 5141);

		expect(results[0].items).toEqual([{ success: true, rehearsal: true, wouldFire: true, ...deal(5141), stageBefore: 'NEW' }]);
		expect(fireRequests(box.sandbox)).toHaveLength(0);
	});
});
