import type { IDataObject } from 'n8n-workflow';

import { apiError, details, errorMessage, FAST, fireParameters, RETRY_ON_FAIL } from './helpers';
import { MemoryDeduplicationStore, registerDeduplicationStore } from './harness/deduplication';
import { runWorkflow, type OnError, type RunResult } from './harness/runWorkflow';
import { callAsTool, TOOL_PATHS } from './hostile/agentRun';
import { firedTwice, freshKey, ids } from './hostile/support';
import { useEventClock } from './harness/virtualClock';
import { fireAt, useSandbox } from './sandboxRun';
import type { Fault, Sandbox } from './sandbox/server';

// "Fire Once Across Executions" (issue 17): with the option on, a key an earlier execution of
// the node fired, or may have fired, is never sent again, whatever started the execution; a fire
// that did not reach Bitrix24 is forgotten, so a later execution sends it. Every execution here is
// a new WorkflowExecute run, as n8n's Retry, a second webhook delivery or another worker starts
// one; n8n's store is registered the way n8n's server registers it (./harness/deduplication).
// Oracle: the "What must be true" and the README's "Fire once across executions".
// On the event clock, which moves only when everything waits for it: the node waits a quarter
// of a second after its fires to check its keys again, and the model store's calls take
// event-loop turns, during which the clock holds still, as no time passes in them.
// Executions at once, whose races need real time, are in fireOnceProcesses.test.ts.
const clock = useEventClock({ start: Date.UTC(2026, 10, 29, 12, 0, 0) });
const box = useSandbox();
const store = registerDeduplicationStore(new MemoryDeduplicationStore({ clock }));
// The previous test's last removals land a moment after its execution ended (a virtual minute passes).
beforeEach(async () => {
	await store.quiet();
	store.clear();
});

const ONCE = { ...FAST, fireOnce: true };
const ONE_AT_A_TIME = { ...ONCE, maxConcurrent: 1 };
const SKIPPED = /^Not fired: an earlier execution of this node fired this Fire Once Key/;

const fired = (sandbox: Sandbox) => sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b);
const sent = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => Number((r.body as { entityId: unknown }).entityId));
const faultOn = (entityId: number, fault: Fault) =>
	box.sandbox.injectFault({ ...fault, match: { path: '/v1/triggers/fire', entityId: String(entityId) } });
const skippedIds = (result: RunResult) => result.main.filter((item) => item.json.skipped === true).map((item) => item.json.entityId);
const firedIds = (result: RunResult) => result.main.filter((item) => item.json.success === true).map((item) => item.json.entityId);

async function execution(items: IDataObject[], apiKey: string, options: IDataObject = ONCE, onError: OnError = 'continueErrorOutput') {
	return await clock.runUntil(fireAt(box.sandbox, items, { apiKey, options, onError }));
}

describe('executions one after another', () => {
	test('a second execution with the same records fires nothing: each item is on the main output, skipped, with the reason', async () => {
		const apiKey = freshKey(box.sandbox);
		const first = await execution(ids(3), apiKey);
		const second = await execution(ids(3), apiKey);

		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
		expect(sent(box.sandbox)).toEqual([1, 2, 3]);
		expect(firedIds(first)).toEqual([1, 2, 3]);
		expect(second.errors).toEqual([]);
		expect(second.main.map((item) => item.json)).toEqual(
			[1, 2, 3].map((id) => ({
				success: false,
				skipped: true,
				reason: expect.stringMatching(SKIPPED),
				fireOnceKey: `deal:${id}:payment_received`,
				entityType: 'deal',
				entityId: id,
				triggerId: 'payment_received',
			})),
		);
		expect(second.main.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
	});

	test('off (the default), a second execution fires every record again: nothing is remembered', async () => {
		const apiKey = freshKey(box.sandbox);
		await execution(ids(2), apiKey, FAST);
		await execution(ids(2), apiKey, FAST);

		expect(fired(box.sandbox)).toEqual([1, 1, 2, 2]);
		expect(store.calls).toBe(0);
	});

	test('the key is the Fire Once Key when set: one payment fires once, another payment for the same deal fires', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { ...ONCE, fireOnceKey: '={{ $json.paymentId }}' };
		await execution([{ id: 7, paymentId: 'pay_1' }], apiKey, options);
		const again = await execution([{ id: 7, paymentId: 'pay_1' }], apiKey, options);
		const other = await execution([{ id: 7, paymentId: 'pay_2' }], apiKey, options);

		expect(fired(box.sandbox)).toEqual([7, 7]);
		expect(again.main.map((item) => item.json)).toEqual([expect.objectContaining({ skipped: true, fireOnceKey: 'pay_1', entityId: 7 })]);
		expect(firedIds(other)).toEqual([7]);
	});

	test('a number from an expression is a key; an empty one falls back to entity type, ID and trigger code', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { ...ONCE, fireOnceKey: '={{ $json.paymentId }}' };
		await execution([{ id: 1, paymentId: 501 }, { id: 2 }], apiKey, options);

		expect(store.holds('501')).toBe(true);
		expect(store.holds('deal:2:payment_received')).toBe(true);
		const again = await execution([{ id: 9, paymentId: 501 }, { id: 2, paymentId: '' }], apiKey, options);
		expect(skippedIds(again)).toEqual([9, 2]);
		expect(fired(box.sandbox)).toEqual([1, 2]);
	});

	test('a Fire Once Key that is neither text nor a number fails its item before anything is sent, naming the field, the value and the item', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { ...ONCE, fireOnceKey: '={{ $json.payment }}' };
		const result = await execution([{ id: 1, payment: { id: 'p' } }, { id: 2, payment: 'p2' }], apiKey, options);

		expect(result.errors.map(errorMessage)).toEqual(['Invalid Fire Once Key "{"id":"p"}" in item 0']);
		expect(details(result.errors[0]).description).toMatch(/must be text or a number/);
		expect(sent(box.sandbox)).toEqual([2]);
	});
});

describe('what is remembered', () => {
	test('a fire that may have reached Bitrix24 (502 after it applied) is remembered: the next execution does not send it', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(2, { kind: 'json502', apply: true, times: 1 });
		const first = await execution(ids(3), apiKey);
		const second = await execution(ids(3), apiKey);

		expect(first.errors.map((item) => details(item).hint)).toEqual([expect.stringMatching(/may already have fired/)]);
		expect(sent(box.sandbox)).toEqual([1, 2, 3]);
		expect(skippedIds(second)).toEqual([1, 2, 3]);
	});

	test.each<[string, Fault]>([
		['a 403 refusal', { kind: 'error', status: 403, body: apiError('SCOPE_DENIED', 'No CRM scope'), times: 1 }],
		['a 401 refusal', { kind: 'error', status: 401, body: apiError('INVALID_API_KEY', 'Invalid API key'), times: 1 }],
		['a 429 whose wait is too long', { kind: 'error', status: 429, body: apiError('RATE_LIMITED', 'Too many requests'), headers: { 'Retry-After': '3600' }, times: 1 }],
	])('a fire refused before it reached Bitrix24 (%s) is forgotten: the next execution sends it', async (_, fault) => {
		const apiKey = freshKey(box.sandbox);
		faultOn(2, fault);
		// A 429 holds the key for up to "Max Wait on Rate Limit": none here, in real time.
		const first = await execution(ids(3), apiKey, { ...ONE_AT_A_TIME, maxRateLimitWaitSeconds: 0 });
		// Another key: a 429's wait holds the key that met it; the node's keys are the node's, not the API key's.
		const second = await execution(ids(3), freshKey(box.sandbox), ONE_AT_A_TIME);

		expect(first.errors).toHaveLength(1);
		const refused = Number(details(first.errors[0]).entityId);
		expect(firedIds(second)).toEqual([refused]);
		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
		expect(store.holds(`deal:${refused}:payment_received`)).toBe(true);
	});

	test('a record that does not exist is forgotten, unsent: once it exists, the next execution fires it', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.removeRecord('deal', 2);
		const first = await execution(ids(2), apiKey, { ...ONCE, checkRecords: true });
		box.sandbox.restoreRecords();
		const second = await execution(ids(2), apiKey, { ...ONCE, checkRecords: true });

		expect(first.errors.map(errorMessage)).toEqual(['Deal 2 does not exist in Bitrix24 (item 1)']);
		expect(firedIds(second)).toEqual([2]);
		expect(skippedIds(second)).toEqual([1]);
		expect(fired(box.sandbox)).toEqual([1, 2]);
	});

	test('an invalid item has no key: fixed, it fires in the next execution', async () => {
		const apiKey = freshKey(box.sandbox);
		await execution([{ id: 'abc' }], apiKey);
		const second = await execution([{ id: 4 }], apiKey);

		expect(firedIds(second)).toEqual([4]);
	});

	test('the history keeps the newest keys: with 3 remembered, the oldest fires again and the newest are skipped', async () => {
		const apiKey = freshKey(box.sandbox);
		// At least 3 are remembered: the row also makes room for the claims of fires in flight
		// (3 values each, twice "Max Concurrent Requests" of them), so 12 keys push out the first.
		const options = { ...ONE_AT_A_TIME, fireOnceMaxKeys: 3 };
		const keys = ids(12).map(({ id }) => id);
		for (const id of keys) await execution([{ id }], apiKey, options);
		const oldest = await execution([{ id: 1 }], apiKey, options);
		const newest = await execution(ids(3, 10), apiKey, options);

		expect(firedIds(oldest)).toEqual([1]);
		expect(skippedIds(newest)).toEqual([10, 11, 12]);
		expect(fired(box.sandbox)).toEqual([1, ...keys]);
	});

	test('the node remembers its own keys: another Fire node of the workflow (another node id) fires the same record', async () => {
		const apiKey = freshKey(box.sandbox);
		await execution(ids(1), apiKey);
		const other = await clock.runUntil(
			runWorkflow({
				parameters: fireParameters({ options: ONCE }),
				items: ids(1),
				settings: { id: 'another-vibecode-node' },
				credentials: { apiKey, baseUrl: box.sandbox.url },
			}),
		);

		expect(firedIds(other)).toEqual([1]);
	});
});

describe('within one execution', () => {
	test('two items with the same key fire once; the second says which item has its key', async () => {
		const apiKey = freshKey(box.sandbox);
		const options = { ...ONCE, fireOnceKey: '={{ $json.paymentId }}' };
		const result = await execution(
			[
				{ id: 1, paymentId: 'a' },
				{ id: 2, paymentId: 'a' },
				{ id: 3, paymentId: 'b' },
			],
			apiKey,
			options,
		);

		expect(fired(box.sandbox)).toEqual([1, 3]);
		expect(result.main.map((item) => [item.json.entityId, item.json.success, item.json.reason ?? null])).toEqual([
			[1, true, null],
			[2, false, 'Not fired: item 0 of this run has the same Fire Once Key.'],
			[3, true, null],
		]);
	});

	test("n8n's Retry On Fail re-runs the node: the first try's fires are answered as fired, not skipped, and sent once", async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await clock.runUntil(
			fireAt(box.sandbox, [{ id: 'abc' }, { id: 2 }, { id: 3 }], {
				apiKey,
				options: ONCE,
				onError: 'continueRegularOutput',
				settings: RETRY_ON_FAIL,
			}),
		);

		expect(sent(box.sandbox)).toEqual([2, 3]);
		expect(firedIds(result)).toEqual([2, 3]);
		expect(skippedIds(result)).toEqual([]);
	});
});

describe('On Error: Stop, then n8n\'s Retry of the execution', () => {
	test('with the option on, the retry fires only what the failed execution never sent (the 4th may have fired: skipped)', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(4, { kind: 'json502', apply: true, times: 1 });
		const failed = await execution(ids(6), apiKey, ONE_AT_A_TIME, 'stopWorkflow');
		const retry = await execution(ids(6), apiKey, ONE_AT_A_TIME, 'stopWorkflow');

		expect(failed.error?.description).toMatch(
			/Fired before the stop: items 0–2\. Not sent: items 4–5\. Retrying this execution fires only the items that were not sent/,
		);
		expect(retry.error).toBeUndefined();
		expect(skippedIds(retry)).toEqual([1, 2, 3, 4]);
		expect(firedIds(retry)).toEqual([5, 6]);
		// In either order: the failed execution's second removal of its unsent keys can land on the retry's claim of 5, which is then looked at again.
		expect(sent(box.sandbox).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
	});

	test('with it off, the stop error says that a retry sends the fired items again and how to prevent it; and it does', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(4, { kind: 'json502', apply: true, times: 1 });
		const failed = await execution(ids(6), apiKey, { ...FAST, maxConcurrent: 1 }, 'stopWorkflow');
		await execution(ids(6), apiKey, { ...FAST, maxConcurrent: 1 }, 'stopWorkflow');

		expect(failed.error?.description).toMatch(
			/Retrying this execution \(Retry in the executions list\) sends every item again, including those that fired or may have fired; so does a Retry after n8n stopped in the middle of a run \(a crash, a restart, a deploy\)\. To make a retry fire only what was not sent, turn on the option "Fire Once Across Executions"\.$/,
		);
		expect(firedTwice(box.sandbox).map(Number).sort()).toEqual([1, 2, 3, 4]);
	});

	test('a stop on an item checked before anything was sent claims nothing: the fixed execution fires every item', async () => {
		const apiKey = freshKey(box.sandbox);
		const failed = await execution([{ id: 1 }, { id: 'abc' }], apiKey, ONCE, 'stopWorkflow');
		const fixed = await execution([{ id: 1 }, { id: 2 }], apiKey, ONCE, 'stopWorkflow');

		expect(failed.error?.message).toBe('Invalid Entity ID "abc" in item 1');
		expect(firedIds(fixed)).toEqual([1, 2]);
	});

	test('cancelling the execution forgets what it had not sent: the next execution sends it', async () => {
		const apiKey = freshKey(box.sandbox);
		const stop = new AbortController();
		// One fire a minute: the second would wait a minute for its turn.
		const options = { ...ONCE, requestsPerMinute: 1, maxConcurrent: 1 };
		const run = fireAt(box.sandbox, ids(3), { apiKey, options, signal: stop.signal });
		await clock.runUntil(box.sandbox.arrival('/v1/triggers/fire'));
		stop.abort();
		await clock.runUntil(run);
		const next = await execution(ids(3), freshKey(box.sandbox));

		expect(skippedIds(next)).toEqual([1]);
		expect(firedIds(next)).toEqual([2, 3]);
		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
	}, 20_000);
});

describe('Rehearse (Fire Nothing) with Fire Once (issue 24)', () => {
	const REHEARSE = { ...ONCE, rehearse: true };
	/** Puts values into the node's row as another execution's claim would (test/harness/runWorkflow.ts names the workflow and node). */
	const claimAsAnotherExecution = async (...values: string[]) =>
		await store.checkProcessedAndRecord(values, 'node', { workflow: { id: 'test-workflow' }, node: { id: 'vibecode' } } as never, {
			mode: 'entries',
			maxEntries: 100,
		});

	test('a rehearsal fires nothing and leaves no key in the store: the real run after it fires every key', async () => {
		const apiKey = freshKey(box.sandbox);
		const rehearsal = await execution(ids(3), apiKey, REHEARSE);
		await store.quiet();

		expect(rehearsal.main.map((item) => [item.json.entityId, item.json.wouldFire])).toEqual([
			[1, true],
			[2, true],
			[3, true],
		]);
		expect(sent(box.sandbox)).toEqual([]);
		for (const id of [1, 2, 3]) {
			expect(store.holds(`deal:${id}:payment_received`)).toBe(false);
			expect(store.holds(`deal:${id}:payment_received\npending`)).toBe(false);
		}
		expect(await store.getProcessedDataCount('node', { workflow: { id: 'test-workflow' }, node: { id: 'vibecode' } })).toBe(0);

		const real = await execution(ids(3), apiKey);
		expect(firedIds(real)).toEqual([1, 2, 3]);
		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
	});

	test('after a real run, a rehearsal says the keys would be skipped, as a real run would, and records nothing', async () => {
		const apiKey = freshKey(box.sandbox);
		await execution(ids(2), apiKey);
		await store.quiet();
		const rehearsal = await execution(ids(3), apiKey, REHEARSE);
		await store.quiet();

		expect(rehearsal.main.map((item) => item.json)).toEqual([
			expect.objectContaining({ success: false, rehearsal: true, skipped: true, reason: expect.stringMatching(SKIPPED), entityId: 1 }),
			expect.objectContaining({ success: false, rehearsal: true, skipped: true, reason: expect.stringMatching(SKIPPED), entityId: 2 }),
			expect.objectContaining({ success: true, rehearsal: true, wouldFire: true, entityId: 3 }),
		]);
		expect(sent(box.sandbox)).toEqual([1, 2]);
		expect(store.holds('deal:1:payment_received\npending')).toBe(false);
		expect(store.holds('deal:3:payment_received')).toBe(false);
	});

	test('a key another execution holds without an answer fails at once as "may have fired", as a real run reports it; the claim is left as it was', async () => {
		const apiKey = freshKey(box.sandbox);
		await claimAsAnotherExecution('deal:1:payment_received', 'deal:1:payment_received\npending');
		const rehearsal = await execution(ids(2), apiKey, REHEARSE);
		await store.quiet();

		expect(rehearsal.errors.map(errorMessage)).toEqual(['Fire Once Key "deal:1:payment_received" may already have fired (item 0)']);
		expect(details(rehearsal.errors[0]).code).toBe('FIRE_ONCE_UNANSWERED');
		expect(rehearsal.main.map((item) => [item.json.entityId, item.json.wouldFire])).toEqual([[2, true]]);
		expect(store.holds('deal:1:payment_received')).toBe(true);
		expect(store.holds('deal:1:payment_received\npending')).toBe(true);
		expect(store.holds('deal:2:payment_received')).toBe(false);
		expect(sent(box.sandbox)).toEqual([]);
	});
});

describe('When the Record Did Not Move: Fail the Item, with Fire Once (issue 24)', () => {
	test('the record that did not move fails, and is remembered as fired: the next execution skips it', async () => {
		const apiKey = freshKey(box.sandbox);
		// Deal 5143 is in the sandbox's pipeline C1, where "payment_received" moves nothing.
		const options = { ...ONCE, reportStageChange: true, whenNotMoved: 'fail' };
		const first = await execution([{ id: 5141 }, { id: 5143 }], apiKey, options);
		const second = await execution([{ id: 5141 }, { id: 5143 }], apiKey, options);

		expect(first.errors.map(errorMessage)).toEqual(['Deal 5143 did not move (item 1)']);
		expect(skippedIds(second)).toEqual([5141, 5143]);
		expect(fired(box.sandbox)).toEqual([5141, 5143]);
	});
});

describe("when n8n's store cannot help", () => {
	test('a store that fails twice fails every item unsent, with a message a person understands', async () => {
		const apiKey = freshKey(box.sandbox);
		store.failures.push(new Error('connection terminated'), new Error('connection terminated'));
		const result = await execution(ids(2), apiKey);

		expect(sent(box.sandbox)).toEqual([]);
		expect(result.errors.map(errorMessage)).toEqual([
			'Could not check "Fire Once Across Executions" in n8n\'s database (item 0)',
			'Could not check "Fire Once Across Executions" in n8n\'s database (item 1)',
		]);
		expect(details(result.errors[0]).description).toMatch(/^Nothing was fired, so the item is safe to run again\. n8n said: "connection terminated"/);
	});

	test('a store call that fails once (two first writes of the row racing) is tried again', async () => {
		const apiKey = freshKey(box.sandbox);
		store.failures.push(new Error('duplicate key value violates unique constraint "PK_processed_data"'));
		const result = await execution(ids(2), apiKey);

		expect(firedIds(result)).toEqual([1, 2]);
	});
});

describe.each(TOOL_PATHS)('as an AI Agent tool (%s path)', (path) => {
	const parameters = fireParameters({
		entityId: "={{ $fromAI('entityId', 'The ID of the CRM record', 'number') }}",
		options: ONCE,
	});

	if (path === 'engine') {
		test('AI Agent 3 runs the node as a custom operation: a second call for the record is answered "skipped", unsent', async () => {
			const apiKey = freshKey(box.sandbox);
			const credentials = { apiKey, baseUrl: box.sandbox.url };
			const first = await clock.runUntil(callAsTool({ parameters, path, calls: [{ entityId: 8 }], credentials }));
			const second = await clock.runUntil(callAsTool({ parameters, path, calls: [{ entityId: 8 }], credentials }));

			expect(first.results[0].items).toEqual([expect.objectContaining({ success: true, entityId: 8 })]);
			expect(second.results[0].items).toEqual([expect.objectContaining({ success: false, skipped: true, reason: expect.stringMatching(SKIPPED) })]);
			expect(sent(box.sandbox)).toEqual([8]);
		});
	} else {
		test('AI Agent 2.2 calls tools without n8n\'s store: the call is answered "not available", nothing is sent', async () => {
			const apiKey = freshKey(box.sandbox);
			const { results } = await clock.runUntil(callAsTool({ parameters, path, calls: [{ entityId: 8 }], credentials: { apiKey, baseUrl: box.sandbox.url } }));

			expect(sent(box.sandbox)).toEqual([]);
			expect(results[0].items).toEqual([
				expect.objectContaining({
					success: false,
					fired: 'no',
					failure: expect.objectContaining({
						message: '"Fire Once Across Executions" is not available here (item 0)',
						description: expect.stringMatching(/AI Agent 2\.2 and older call their tools without it/),
					}),
				}),
			]);
		});
	}
});
