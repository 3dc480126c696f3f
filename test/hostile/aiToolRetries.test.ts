import { apiError, FAST, fireParameters, RETRY_ON_FAIL, toolFailure } from '../helpers';
import { useVirtualClock } from '../harness/virtualClock';
import { useSandbox } from '../sandboxRun';
import type { Fault, Sandbox } from '../sandbox/server';
import { callAsTool, callTools, TOOL_PATHS } from './agentRun';
import { freshKey } from './support';

// As an AI Agent tool: n8n retries a failed tool call itself (Retry On Fail, up to 5 tries),
// and the engine path re-runs the tool node. Neither may fire a record twice: a failed call is
// answered (the model hears what happened), so neither retry loop runs it again.
useVirtualClock();
const box = useSandbox();

const parameters = fireParameters({
	entityId: "={{ $fromAI('entityId', 'The ID of the CRM record', 'number') }}",
	options: FAST,
});
const RETRY = { ...RETRY_ON_FAIL, maxTries: 4 };
const sent = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => (r.body as { entityId: unknown }).entityId);
const faultOn = (entityId: number, fault: Fault) =>
	box.sandbox.injectFault({ ...fault, match: { path: '/v1/triggers/fire', entityId: String(entityId) } });
const credentials = (apiKey: string) => ({ apiKey, baseUrl: box.sandbox.url });

describe.each(TOOL_PATHS)('As an AI tool with Retry On Fail (%s path)', (path) => {
	test('a fire that may have reached Bitrix24 is never sent again; the agent hears "may have fired"', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(5, { kind: 'json502', apply: true, times: Infinity });
		const { results } = await callAsTool({ parameters, path, calls: [{ entityId: 5 }], credentials: credentials(apiKey), settings: RETRY });

		expect(sent(box.sandbox)).toEqual([5]);
		expect(box.sandbox.fires.map((f) => f.entityId)).toEqual([5]);
		expect(results[0].items?.[0]).toMatchObject({ success: false, fired: 'maybe', entityId: 5 });
		expect(toolFailure(results[0])).toMatchObject({ message: 'The Bitrix24 portal did not answer', code: 'BITRIX_UNAVAILABLE', httpCode: 502 });
		expect(toolFailure(results[0])?.description).toMatch(/may already have fired/);
	});

	test('a refusal is answered at once, with its reason and "not fired"; no retry loop sends the call again', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(5, { kind: 'error', status: 403, body: apiError('SCOPE_DENIED', 'No CRM scope'), times: 1 });
		const { results, run } = await callAsTool({ parameters, path, calls: [{ entityId: 5 }], credentials: credentials(apiKey), settings: RETRY });

		expect(sent(box.sandbox)).toEqual([5]);
		expect(box.sandbox.fires).toEqual([]);
		expect(results[0].items).toEqual([
			{
				success: false,
				fired: 'no',
				failure: {
					message: 'The API key may not use the CRM',
					description: expect.stringMatching(/Enable the "crm" scope/),
					code: 'SCOPE_DENIED',
					httpCode: 403,
					hint: expect.stringMatching(/Enable the "crm" scope/),
				},
				entityType: 'deal',
				entityId: 5,
				triggerId: 'payment_received',
			},
		]);
		// The agent went on: the execution ended without an error.
		expect(run.data.resultData.error).toBeUndefined();
	});

	test('each call has its own state: a failed call does not stop the next one', async () => {
		const apiKey = freshKey(box.sandbox);
		faultOn(5, { kind: 'error', status: 403, body: apiError('BITRIX_ACCESS_DENIED', 'Доступ запрещён'), times: 1 });
		const { results } = await callAsTool({ parameters, path, calls: [{ entityId: 5 }, { entityId: 6 }], credentials: credentials(apiKey) });

		expect(toolFailure(results[0])?.message).toBe('Bitrix24 denied access to this record');
		expect(results[1].items?.[0]).toMatchObject({ success: true, entityId: 6 });
		expect(sent(box.sandbox)).toEqual([5, 6]);
	});

	test('two Vibecode tools with different keys: each call goes with its own key', async () => {
		const keyA = freshKey(box.sandbox);
		const keyB = freshKey(box.sandbox);
		const { results } = await callTools({
			path,
			tools: [
				{ parameters, credentials: credentials(keyA) },
				{ parameters, credentials: credentials(keyB) },
			],
			calls: [
				{ tool: 1, args: { entityId: 7 } },
				{ tool: 0, args: { entityId: 8 } },
				{ tool: 1, args: { entityId: 9 } },
			],
		});

		expect(results.map((r) => r.items?.[0]?.entityId)).toEqual([7, 8, 9]);
		// Calls 7 and 9 went to one tool node, 8 to the other: each with its node's key.
		const keyOf = Object.fromEntries(box.sandbox.fires.map((f) => [f.entityId, f.apiKeyId]));
		expect(keyOf[7]).toBe(keyOf[9]);
		expect([keyOf[7], keyOf[8]].sort()).toEqual([keyA, keyB].map((key) => key.replace('vibe_api_', '')).sort());
	});
});
