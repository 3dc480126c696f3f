import fc from 'fast-check';
import type { IDataObject } from 'n8n-workflow';

import { FAST, fireParameters, toolFailure } from '../helpers';
import { callAsTool, TOOL_PATHS } from './agentRun';
import { byIdCase, entityIds, entityTypes, mismatch, SEED, sorted, triggers, type Case } from './hostileValues';
import { useVirtualClock } from '../harness/virtualClock';
import { fireBodies, SEEDED, useSandbox } from '../sandboxRun';

// The node's waits (pacing, retries) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();

// How a user sets the node up as a tool: the model fills all three fields.
const parameters = fireParameters({
	entityType: "={{ $fromAI('entityType', 'deal, lead, contact, company, quote or invoice', 'string') }}",
	entityId: "={{ $fromAI('entityId', 'The ID of the CRM record', 'number') }}",
	trigger: "={{ $fromAI('trigger', 'The trigger code', 'string') }}",
	options: FAST,
});

interface Call {
	args: IDataObject;
	case: Case;
}

const asCall = ([t, v, c]: [unknown, unknown, unknown]): Call => {
	const documented = byIdCase(t, v, c);
	const { t: entityType, v: entityId, c: trigger } = documented.json;
	return { args: JSON.parse(JSON.stringify({ entityType, entityId, trigger })) as IDataObject, case: documented };
};
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
const calls = fc.oneof(
	// Whatever JSON a model sends, a key possibly left out…
	fc.tuple(maybe(entityTypes), maybe(entityIds), maybe(triggers)).map(asCall),
	// …or of the types $fromAI declares.
	fc
		.tuple(
			entityTypes.filter((v) => typeof v === 'string'),
			entityIds.filter((v) => typeof v === 'number'),
			triggers.filter((v) => typeof v === 'string'),
		)
		.map(asCall),
);

/** What the $fromAI types let through to the node when the tool is invoked through LangChain. */
const fitsSchema = ({ entityType, entityId, trigger }: IDataObject) =>
	typeof entityType === 'string' && typeof entityId === 'number' && typeof trigger === 'string';

const CALLS = 200;

describe('As an AI Agent tool, arguments from the model', () => {
	test.each(TOOL_PATHS)('reach the API only as the documented request (%s path)', async (path) => {
		const sample = fc.sample(calls, { seed: SEED, numRuns: CALLS });
		const { results } = await callAsTool({
			parameters,
			path,
			calls: sample.map((call) => call.args),
			credentials: { apiKey: SEEDED.personal, baseUrl: box.sandbox.url },
		});

		const checked = (call: Call) => path === 'engine' || fitsSchema(call.args);
		const wrong = sample.flatMap((call, index) => {
			const result = results[index];
			if (!checked(call)) {
				// LangChain refuses it before the node runs.
				return /did not match expected schema/.test(String(result.error)) ? [] : [{ args: call.args, got: result }];
			}
			// Each tool call is a run of its own with one item, item 0; a refused one answers the model.
			const failure = toolFailure(result);
			const found = mismatch(call.case, 0, failure ? { errorMessage: failure.message, errorCode: failure.code } : { ok: result.items });
			return found ? [{ args: call.args, ...found }] : [];
		});
		expect({ seed: SEED, wrong: wrong.slice(0, 5), count: wrong.length }).toEqual({ seed: SEED, wrong: [], count: 0 });
		const wanted = sample.flatMap((call) => (checked(call) && 'body' in call.case.expect ? [call.case.expect.body] : []));
		expect(sorted(fireBodies(box.sandbox))).toEqual(sorted(wanted));
		expect(wanted.length).toBeGreaterThan(CALLS / 20);
	});
});
