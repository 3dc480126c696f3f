import fc from 'fast-check';
import type { IDataObject } from 'n8n-workflow';

import { details, errorMessage } from '../helpers';
import {
	asItem,
	byIdCase,
	documented,
	entityIds,
	KNOWN_CASES,
	entityTypes,
	junk,
	MAX_ID,
	mismatch,
	padded,
	SEED,
	sorted,
	triggers,
	TYPES,
	type Case,
} from './hostileValues';
import { outcomes } from './support';
import { useVirtualClock } from '../harness/virtualClock';
import { fireBodies, fireWith, useSandbox } from '../sandboxRun';

// The node's waits (pacing, retries) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();
const fire = fireWith(box);

// Record paths as Bitrix24 shows them, by the entity type they stand for.
const PATHS: Record<string, Array<(id: number | string) => string>> = {
	deal: [(id) => `/crm/deal/details/${id}`],
	lead: [(id) => `/crm/lead/details/${id}`],
	contact: [(id) => `/crm/contact/details/${id}`],
	company: [(id) => `/crm/company/details/${id}`],
	quote: [(id) => `/crm/type/7/details/${id}`, (id) => `/crm/quote/show/${id}`],
	invoice: [(id) => `/crm/type/31/details/${id}`],
};
const hosts = fc.oneof(
	fc.constantFrom('', 'https://acme.bitrix24.com', 'https://acme.bitrix24.de', 'http://crm.example.ru:8080'),
	fc.domain().map((domain) => `https://${domain}`),
);
const tails = fc.constantFrom('', '/', '/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER', '/#activity', '?from=kanban');

interface Link {
	link: unknown;
	/** The record a link stands for; none for anything else. */
	target?: { type: string; id: number };
}

const recordLinks = (type: fc.Arbitrary<string>): fc.Arbitrary<Link> =>
	fc
		.record({ host: hosts, type, id: fc.integer({ min: 1, max: MAX_ID }), tail: tails, upper: fc.boolean(), form: fc.nat() })
		.chain(({ host, type, id, tail, upper, form }) => {
			const path = PATHS[type][form % PATHS[type].length](id);
			const link = host + (upper ? path.toUpperCase() : path) + tail;
			return padded(fc.constant(link)).map((padded): Link => ({ link: padded, target: { type, id } }));
		});

/** Not a record link, though it may hold one of `type`: other pages, bad IDs, a record path in a query or fragment. */
const notRecordLinks = (type: string): fc.Arbitrary<Link> => {
	const record = PATHS[type][0];
	return fc
		.tuple(
			hosts,
			fc.constantFrom(
				record(0),
				record('new'),
				record(-5),
				record('5.5'),
				record('９'),
				record('9007199254740992'),
				record('').replace(/\/$/, ''),
				record(5).replace('details', 'detail'),
				record(5).replace(/^\/crm\/(\w+)/, '/crm/$1s'),
				'/crm/deal/kanban/',
				// Legacy invoices have IDs of their own, not those of smart invoices.
				'/crm/invoice/show/5/',
				'/crm/type/128/details/5/',
				'/crm/type/1038/details/5/',
				'/company/personal/user/5/',
				'/workgroups/group/5/',
				`/crm/deal/kanban/?back=${record(5)}/`,
				`/crm/lead/list/#${record(5)}/`,
				`/?redirect=https://acme.bitrix24.com${record(5)}/`,
			),
		)
		.map(([host, path]) => ({ link: host + path }));
};
const otherSystems = fc.constantFrom(
	'https://acme.amocrm.ru/leads/detail/5141',
	'https://app.hubspot.com/contacts/123/record/0-3/5141',
	'https://acme.lightning.force.com/lightning/r/Opportunity/5141/view',
);
/** Links for an item whose Entity Type is `type`: mostly records of that type, some of another. */
const linksFor = (type: string): fc.Arbitrary<Link> =>
	fc.oneof(
		{ weight: 4, arbitrary: recordLinks(fc.constant(type)) },
		{ weight: 2, arbitrary: recordLinks(fc.constantFrom(...TYPES)) },
		{ weight: 3, arbitrary: notRecordLinks(type) },
		otherSystems.map((link) => ({ link })),
		fc.webUrl().map((link) => ({ link })),
		fc.oneof(junk, fc.integer({ min: 1, max: MAX_ID })).map((link) => ({ link })),
		recordLinks(fc.constant(type)).map(({ link }) => ({ link: [link] })),
	);

function byUrlCase(t: unknown, { link, target }: Link): Case {
	const json = asItem({ t, v: link } as IDataObject);
	const entityType = documented.entityType(json.t);
	if (!entityType) return { json, expect: { fields: ['Entity Type'] } };
	if (!target || target.type !== entityType) return { json, expect: { fields: ['Entity ID'] } };
	return { json, expect: { body: { entityType, entityId: target.id, triggerId: 'payment_received' } } };
}

const ITEMS = 500;

/**
 * One workflow run for the whole batch (items are independent): every item must end as its
 * documented request or as an error naming a bad field. Failures are listed per item, which
 * is what shrinking would find, without re-running the workflow hundreds of times.
 */
async function runBatch(arbitrary: fc.Arbitrary<Case>, parameters: IDataObject) {
	const cases = fc.sample(arbitrary, { seed: SEED, numRuns: ITEMS });
	const fromItem = { entityType: '={{ $json.t }}', entityId: '={{ $json.v }}', ...parameters };
	const result = await fire(
		cases.map((c) => c.json),
		{ ...fromItem, onError: 'continueErrorOutput' },
	);
	const seen = outcomes(result, cases.length);
	const wrong = cases.flatMap((c, index) => {
		const { ok, error } = seen[index];
		const found = mismatch(c, index, {
			ok: ok?.map((item) => item.json),
			errorMessage: error && errorMessage(error),
			errorCode: error ? details(error).code : undefined,
		});
		return found ? [found] : [];
	});
	expect({ seed: SEED, wrong: wrong.slice(0, 5), count: wrong.length }).toEqual({ seed: SEED, wrong: [], count: 0 });
	// Nothing else reached the API: exactly the documented bodies, once each.
	const wanted = cases.flatMap((c) => ('body' in c.expect ? [c.expect.body] : []));
	expect(sorted(fireBodies(box.sandbox))).toEqual(sorted(wanted));
	// Not a test that passes by refusing everything.
	expect(wanted.length).toBeGreaterThan(ITEMS / 20);

	// On Error "Stop": the first refused value stops the run with the same message, nothing sent.
	const refused = cases.find((c) => 'fields' in c.expect) as Case;
	box.sandbox.reset();
	const stop = await fire([refused.json], { ...fromItem, onError: 'stopWorkflow' });
	expect({ item: refused.json, message: stop.error?.message, description: stop.error?.description }).toEqual({
		item: refused.json,
		message: expect.stringMatching(/^Invalid (Entity Type|Entity ID|Trigger) ".*" in item 0$/s),
		description: expect.stringMatching(/^(Entity Type must be|Entity ID must be|Paste the link|The link points|This is a link to a legacy invoice|A trigger code has)/),
	});
	expect(fireBodies(box.sandbox)).toEqual([]);
}

describe('Known cases', () => {
	test.each(Object.keys(KNOWN_CASES) as Array<keyof typeof KNOWN_CASES>)('the oracle agrees with the table for %s', (field) => {
		for (const [value, want] of KNOWN_CASES[field]) expect({ value, got: documented[field](value) }).toEqual({ value, got: want });
	});

	test('the node agrees with the table', async () => {
		const cases: Case[] = [
			...KNOWN_CASES.entityType.map(([t]) => byIdCase(t, 5141, 'payment_received')),
			...KNOWN_CASES.entityId.map(([v]) => byIdCase('deal', v, 'payment_received')),
			...KNOWN_CASES.trigger.map(([c]) => byIdCase('deal', 5141, c)),
		];
		const result = await fire(
			cases.map((c) => c.json),
			{ entityType: '={{ $json.t }}', entityId: '={{ $json.v }}', trigger: '={{ $json.c }}', onError: 'continueErrorOutput' },
		);
		const seen = outcomes(result, cases.length);
		const wrong = cases.flatMap((c, index) => {
			const { ok, error } = seen[index];
			const found = mismatch(c, index, { ok: ok?.map((item) => item.json), errorMessage: error && errorMessage(error) });
			return found ? [found] : [];
		});
		expect(wrong).toEqual([]);
		expect(fireBodies(box.sandbox).length).toBe(cases.filter((c) => 'body' in c.expect).length);
	});
});

describe('Generated input reaches the API only as the documented request', () => {
	test('Entity Type, Entity ID and Trigger code from expressions', async () => {
		const cases = fc.tuple(entityTypes, entityIds, triggers).map(([t, v, c]) => byIdCase(t, v, c));
		await runBatch(cases, { trigger: '={{ $json.c }}' });
	});

	test('Entity ID by URL: record links, other pages and junk', async () => {
		const cases = entityTypes.chain((t) =>
			linksFor(documented.entityType(asItem({ t }).t) ?? 'deal').map((link) => byUrlCase(t, link)),
		);
		await runBatch(cases, { mode: 'url' });
	});
});
