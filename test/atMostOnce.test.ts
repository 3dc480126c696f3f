import type { INode } from 'n8n-workflow';

import { apiError, details, errorMessage, FAST, fireParameters, RETRY_ON_FAIL as RETRY } from './helpers';
import { CREDENTIAL_TYPE, NODE_TYPE } from './harness/loadPackage';
import { LOOP_TYPE, loopNode } from './harness/loopNode';
import { runGraph, type OnError } from './harness/runWorkflow';
import { useVirtualClock } from './harness/virtualClock';
import { firedTwice, freshKey, ids } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';
import type { Fault, Sandbox } from './sandbox/server';

// "A record is never fired twice": whatever n8n setting is on, each record the sandbox
// (Bitrix24) applies is applied once, and every input item still ends on one output.
useVirtualClock();
const box = useSandbox();

const MAY_HAVE_FIRED = /may already have fired/;
const fired = (sandbox: Sandbox) => sandbox.fires.map((f) => Number(f.entityId)).sort((a, b) => a - b);
const sent = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => (r.body as { entityId: unknown }).entityId);
/** One request at a time, so that which item meets a fault is known. */
const ONE_AT_A_TIME = { ...FAST, maxConcurrent: 1 };

function faultOn(entityId: number, fault: Fault) {
	box.sandbox.injectFault({ ...fault, match: { path: '/v1/triggers/fire', entityId: String(entityId) } });
}

describe('Retry On Fail (3 tries) never fires a record twice', () => {
	test.each<OnError>(['continueErrorOutput', 'continueRegularOutput'])(
		'%s, first item invalid: n8n re-runs the node, the good records fire once',
		async (onError) => {
			const apiKey = freshKey(box.sandbox);
			const result = await fireAt(box.sandbox, [{ id: 'abc' }, { id: 2 }, { id: 3 }], { apiKey, onError, settings: RETRY });

			expect(fired(box.sandbox)).toEqual([2, 3]);
			expect(sent(box.sandbox)).toEqual([2, 3]);
			const failed = onError === 'continueErrorOutput' ? result.errors : result.main.filter((item) => item.json.error);
			expect(failed.map(errorMessage)).toEqual(['Invalid Entity ID "abc" in item 0']);
			expect(result.main.filter((item) => item.json.success).map((item) => item.json.entityId)).toEqual([2, 3]);
		},
	);

	test('error output, a 502 after Bitrix24 applied the first fire: it keeps its "may have fired" error, nothing is resent', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(1, { kind: 'json502', apply: true, times: Infinity });
		const result = await fireAt(box.sandbox, ids(3), { apiKey, onError: 'continueErrorOutput', settings: RETRY });

		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
		expect(sent(box.sandbox)).toEqual([1, 2, 3]);
		expect(result.errors.map((item) => details(item).hint)).toEqual([expect.stringMatching(MAY_HAVE_FIRED)]);
		expect(result.main.map((item) => item.json.entityId)).toEqual([2, 3]);
	});

	test('Stop, an ambiguous failure on the second item: each record is sent once, the third never', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(2, { kind: 'json502', apply: true, times: Infinity });
		const result = await fireAt(box.sandbox, ids(3), { apiKey, options: ONE_AT_A_TIME, settings: RETRY });

		expect(sent(box.sandbox)).toEqual([1, 2]);
		expect(fired(box.sandbox)).toEqual([1, 2]);
		expect(result.error?.message).toBe('The Bitrix24 portal did not answer');
		expect(result.error?.description).toMatch(MAY_HAVE_FIRED);
		expect(result.error?.description).toMatch(/Not sent: item 2\. Retrying this execution \(Retry in the executions list\) sends every item again, including those that fired or may have fired; so does a Retry after n8n stopped in the middle of a run \(a crash, a restart, a deploy\)\. To make a retry fire only what was not sent, turn on the option "Fire Once Across Executions"\.$/);
	});

	test('Stop, a refusal that did not reach Bitrix24: the next try sends the refused item and the rest, and the run succeeds', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(2, { kind: 'error', status: 403, body: apiError('BITRIX_ACCESS_DENIED', 'Доступ запрещён'), times: 1 });
		const result = await fireAt(box.sandbox, ids(3), { apiKey, options: ONE_AT_A_TIME, settings: RETRY });

		expect(result.error).toBeUndefined();
		expect(sent(box.sandbox)).toEqual([1, 2, 2, 3]);
		expect(fired(box.sandbox)).toEqual([1, 2, 3]);
		expect(result.main.map((item) => item.json.entityId)).toEqual([1, 2, 3]);
	});

	test('Stop, an invalid item: every try stops before anything is sent', async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, [{ id: 1 }, { id: -2 }], { apiKey, settings: RETRY });

		expect(result.error?.message).toBe('Invalid Entity ID "-2" in item 1');
		expect(sent(box.sandbox)).toEqual([]);
	});

	test('with "Retry Failed Fires" on, the node\'s own retry still happens only once across n8n\'s tries', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(1, { kind: 'json502', apply: true, times: Infinity });
		await fireAt(box.sandbox, ids(1), {
			apiKey,
			onError: 'continueErrorOutput',
			settings: { ...RETRY, maxTries: 5 },
			options: { ...FAST, retryAmbiguousFires: true },
		});

		// The risk the option names, taken once: two sends, then never again.
		expect(sent(box.sandbox)).toEqual([1, 1]);
	});
});

describe('Inside Loop Over Items, with two Vibecode nodes on different keys', () => {
	test('each record fires once per node, on its own key, under Retry On Fail', async () => {
		const keyA = freshKey(box.sandbox);
		const keyB = freshKey(box.sandbox);
		faultOn(1, { kind: 'json502', apply: true, times: Infinity });
		// B fires for what A passes on: a fired record, or the record of A's error item.
		const vibecode = (name: string, credentialId: string, trigger: string, entityId: string): INode => ({
			id: name,
			name,
			type: NODE_TYPE,
			typeVersion: 1,
			position: [0, 0],
			parameters: fireParameters({ trigger, entityId }),
			credentials: { [CREDENTIAL_TYPE]: { id: credentialId, name } },
			onError: 'continueRegularOutput',
			...RETRY,
		});
		const loop: INode = { id: 'loop', name: 'Loop', type: LOOP_TYPE, typeVersion: 1, position: [0, 0], parameters: { batchSize: 2 } };
		const run = await runGraph({
			items: ids(5),
			types: [loopNode],
			nodes: [
				loop,
				vibecode('A', 'a', 'payment_received', '={{ $json.id }}'),
				vibecode('B', 'b', 'deal_won', '={{ $json.entityId ?? $json.error.entityId }}'),
			],
			connections: {
				Items: { main: [[{ node: 'Loop', type: 'main', index: 0 }]] },
				Loop: { main: [[], [{ node: 'A', type: 'main', index: 0 }]] },
				A: { main: [[{ node: 'B', type: 'main', index: 0 }]] },
				B: { main: [[{ node: 'Loop', type: 'main', index: 0 }]] },
			},
			credentials: {
				a: { apiKey: keyA, baseUrl: box.sandbox.url },
				b: { apiKey: keyB, baseUrl: box.sandbox.url },
			},
		});

		expect(run.data.resultData.error).toBeUndefined();
		expect(run.data.resultData.runData.A).toHaveLength(3);
		const byKey = (trigger: string) =>
			box.sandbox.fires
				.filter((f) => f.triggerId === trigger)
				.map((f) => [f.apiKeyId, Number(f.entityId)])
				.sort((a, b) => Number(a[1]) - Number(b[1]));
		const idA = keyA.replace('vibe_api_', '');
		const idB = keyB.replace('vibe_api_', '');
		expect(byKey('payment_received')).toEqual([1, 2, 3, 4, 5].map((id) => [idA, id]));
		expect(byKey('deal_won')).toEqual([1, 2, 3, 4, 5].map((id) => [idB, id]));
		expect(firedTwice(box.sandbox)).toEqual([]);
	});
});

describe('Options are checked and converted before anything is sent', () => {
	test.each([
		['Retry Failed Fires (May Fire Twice)', { retryAmbiguousFires: '={{ "yes" }}' }, 'yes', /must be true or false/],
		['Requests per Minute', { requestsPerMinute: '={{ $json.nothing }}' }, 'undefined', /must be a number from 1 to 1000000/],
		['Requests per Minute', { requestsPerMinute: '={{ 1/0 }}' }, 'null', /must be a number from 1 to 1000000/],
		['Max Concurrent Requests', { maxConcurrent: '={{ 2.5 }}' }, '2.5', /must be a whole number from 1 to 100/],
		['Max Retries on Rate Limit', { maxRateLimitRetries: '={{ -1 }}' }, '-1', /from 0 to 20/],
		['Max Wait on Rate Limit (Seconds)', { maxRateLimitWaitSeconds: '={{ "soon" }}' }, 'soon', /from 0 to 600/],
	])('%s %j: a clear error naming the option', async (label, option, shownValue, rule) => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, ids(2), { apiKey, options: { ...FAST, ...option } });

		expect(result.error?.message).toBe(`Invalid ${label} "${shownValue}" in item 0`);
		expect(result.error?.description).toMatch(rule);
		if (shownValue === 'undefined') expect(result.error?.description).toMatch(/Its expression gave nothing/);
		expect(sent(box.sandbox)).toEqual([]);
	});

	test('with the error output, a bad option fails every item there and sends nothing', async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, ids(2), {
			apiKey,
			options: { requestsPerMinute: '={{ "fast" }}' },
			onError: 'continueErrorOutput',
		});

		expect(result.errors.map(errorMessage)).toEqual(['Invalid Requests per Minute "fast" in item 0', 'Invalid Requests per Minute "fast" in item 0']);
		expect(sent(box.sandbox)).toEqual([]);
	});

	test('"false" from an expression is false: an ambiguous fire is not resent', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(1, { kind: 'json502', apply: true, times: Infinity });
		await fireAt(box.sandbox, ids(1), {
			apiKey,
			onError: 'continueErrorOutput',
			options: { ...FAST, retryAmbiguousFires: '={{ "false" }}' },
		});

		expect(sent(box.sandbox)).toEqual([1]);
	});

	test('numbers as text are numbers', async () => {
		const apiKey = freshKey(box.sandbox);
		const result = await fireAt(box.sandbox, ids(2), {
			apiKey,
			options: { requestsPerMinute: '={{ "600000" }}', maxConcurrent: '={{ " 2 " }}', retryAmbiguousFires: '={{ "TRUE" }}' },
		});

		expect(result.error).toBeUndefined();
		expect(fired(box.sandbox)).toEqual([1, 2]);
	});
});
