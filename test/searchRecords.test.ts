import type { ICredentialDataDecryptedObject, IDataObject, INodeListSearchItems, INodeParameters } from 'n8n-workflow';

import example from '../examples/fire-trigger-for-one-deal.json';
import { FAST, fireParameters } from './helpers';
import { runWorkflow } from './harness/runWorkflow';
import { searchList } from './harness/searchList';
import { SEEDED, useSandbox } from './sandboxRun';
import { useVirtualClock } from './harness/virtualClock';

// The node's waits (pacing, retries) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();
const personal = () => ({ apiKey: SEEDED.personal, baseUrl: box.sandbox.url });
const app = () => ({ apiKey: SEEDED.app, sessionToken: SEEDED.session, baseUrl: box.sandbox.url });
const PORTAL = 'https://sandbox.bitrix24.com';

const records = (entityType: string, filter?: string, paginationToken?: string, credentials: ICredentialDataDecryptedObject = personal()) =>
	searchList('searchRecords', credentials, filter, { parameters: { entityType }, paginationToken });

const names = (results: INodeListSearchItems[]) => results.map((entry) => entry.name);
const searches = () => box.sandbox.requests.filter((request) => request.path.endsWith('/search'));
const meRequests = (apiKeyId: string) =>
	box.sandbox.requests.filter((request) => request.path === '/v1/me' && request.apiKeyId === apiKeyId);

describe('Entity ID "From List"', () => {
	test('pages through all deals, most recent first, with no record twice and no page after the last', async () => {
		const first = await records('deal');
		expect(first.results).toHaveLength(50);
		expect(first.results[0]).toEqual({
			name: 'Initech licences (#5150)',
			value: '5150',
			url: `${PORTAL}/crm/deal/details/5150/`,
		});
		expect(first.paginationToken).toBe('50');

		const second = await records('deal', undefined, first.paginationToken);
		expect(second.paginationToken).toBe('100');
		// The sandbox says hasMore: true on this full last page, as the real API sometimes does.
		const third = await records('deal', undefined, second.paginationToken);
		expect(third.paginationToken).toBeUndefined();

		const values = [...first.results, ...second.results, ...third.results].map((entry) => entry.value);
		expect(values).toHaveLength(150);
		expect(new Set(values).size).toBe(150);
		expect(values).toEqual([...values].sort((a, b) => Number(b) - Number(a)));
		// A deal without a title is named by its type and ID.
		expect(third.results.find((entry) => entry.value === '5013')?.name).toBe('Deal #5013');

		// An empty search sends no filter, asks for the most recent first, 50 at a time.
		expect(searches().map((request) => request.body)).toEqual(
			[0, 50, 100].map((offset) => ({ select: ['id', 'title'], order: { id: 'desc' }, limit: 50, offset })),
		);
		expect(searches()[0]).toMatchObject({ method: 'POST', path: '/v1/deals/search', apiKeyId: 'personal' });
	});

	test('searches deals by title, case-insensitively', async () => {
		const found = await records('deal', ' acme ');

		expect(names(found.results)).toEqual(['ACME training (#5100)', 'Acme support renewal (#5042)', 'Acme rollout (#5041)']);
		expect(found.paginationToken).toBeUndefined();
		expect(searches()[0].body).toMatchObject({ filter: { title: { $contains: 'acme' } }, order: { id: 'desc' } });
	});

	test('follows a change of Entity Type: contacts by first name and by last name, each once', async () => {
		const ann = await records('contact', 'ann');
		// Anna by first name, Ivan Annenkov by last name, Hanna Annenkova by both: shown once.
		expect(ann.results).toEqual([
			{ name: 'Hanna Annenkova (#13)', value: '13', url: `${PORTAL}/crm/contact/details/13/` },
			{ name: 'Ivan Annenkov (#12)', value: '12', url: `${PORTAL}/crm/contact/details/12/` },
			{ name: 'Anna Smirnova (#11)', value: '11', url: `${PORTAL}/crm/contact/details/11/` },
		]);
		expect(ann.paginationToken).toBeUndefined();
		expect(searches().map((request) => [request.path, (request.body as IDataObject).filter])).toEqual([
			['/v1/contacts/search', { name: { $contains: 'ann' } }],
			['/v1/contacts/search', { lastName: { $contains: 'ann' } }],
		]);
		expect(searches()[0].body).toMatchObject({ select: ['id', 'name', 'lastName'] });

		expect(names((await records('contact', 'PETROV')).results)).toEqual(['Boris Petrov (#14)']);
		expect(names((await records('contact', 'Boris')).results)).toEqual(['Boris Petrov (#14)']);
		// Without a search text: every contact, a missing first name or no name at all included.
		expect(names((await records('contact')).results)).toEqual([
			'Contact #16',
			'Orlova (#15)',
			'Boris Petrov (#14)',
			'Hanna Annenkova (#13)',
			'Ivan Annenkov (#12)',
			'Anna Smirnova (#11)',
		]);
	});

	test('contacts found by both names are never shown twice across pages', async () => {
		// 60 match by first name, 60 by last name, 30 of them by both: 90 contacts on two pages.
		const contacts = Array.from({ length: 120 }, (_, i) => ({
			id: i + 1,
			name: i < 60 ? `Kim${i}` : `Lee${i}`,
			lastName: i >= 30 && i < 90 ? `Kimura${i}` : `Park${i}`,
		}));
		box.sandbox.setRecords('contact', contacts);
		try {
			const first = await records('contact', 'kim');
			expect(first.paginationToken).toBe('50');
			const second = await records('contact', 'kim', first.paginationToken);
			expect(second.paginationToken).toBeUndefined();
			const values = [...first.results, ...second.results].map((entry) => Number(entry.value));
			expect(values).toHaveLength(90);
			expect(new Set(values).size).toBe(90);
			expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
		} finally {
			box.sandbox.setRecords('contact', [
				{ id: 11, name: 'Anna', lastName: 'Smirnova' },
				{ id: 12, name: 'Ivan', lastName: 'Annenkov' },
				{ id: 13, name: 'Hanna', lastName: 'Annenkova' },
				{ id: 14, name: 'Boris', lastName: 'Petrov' },
				{ id: 15, name: '', lastName: 'Orlova' },
				{ id: 16, name: null, lastName: null },
			]);
		}
	});

	test.each([
		['lead', '/v1/leads/search', 'Website enquiry: Acme (#301)', `${PORTAL}/crm/lead/details/301/`],
		['company', '/v1/companies/search', 'Acme Corp (#21)', `${PORTAL}/crm/company/details/21/`],
		['quote', '/v1/quotes/search', 'Quote for Acme rollout (#7)', `${PORTAL}/crm/type/7/details/7/`],
		['invoice', '/v1/invoices/search', 'Invoice 2026-041 Acme (#41)', `${PORTAL}/crm/type/31/details/41/`],
	])('%s records link to their Bitrix24 page', async (entityType, path, name, url) => {
		const found = await records(entityType, 'acme');

		expect(found.results).toEqual([{ name, value: url.match(/(\d+)\/$/)?.[1], url }]);
		expect(searches()[0].path).toBe(path);
	});

	test('asks /v1/me once per credential; without an answer the entries have no link', async () => {
		box.sandbox.addKey('vibe_api_sandbox_once', { id: 'once' });
		box.sandbox.addKey('vibe_api_sandbox_twice', { id: 'twice' });
		const once = { apiKey: 'vibe_api_sandbox_once', baseUrl: box.sandbox.url };
		const twice = { apiKey: 'vibe_api_sandbox_twice', baseUrl: box.sandbox.url };

		await records('deal', undefined, undefined, once);
		await records('contact', 'ann', undefined, once);
		await records('deal', 'acme', '0', once);
		expect(meRequests('once')).toHaveLength(1);

		// /v1/me fails for the other key: the list still comes, without links, and /v1/me is asked again later.
		box.sandbox.injectFault({
			kind: 'error',
			status: 400,
			body: { success: false, error: { code: 'INVALID_PARAMS', message: 'no' } },
			match: { path: '/v1/me' },
		});
		const withoutLinks = await records('deal', 'acme', undefined, twice);
		expect(withoutLinks.results).toEqual([
			{ name: 'ACME training (#5100)', value: '5100' },
			{ name: 'Acme support renewal (#5042)', value: '5042' },
			{ name: 'Acme rollout (#5041)', value: '5041' },
		]);
		const withLinks = await records('deal', 'acme', undefined, twice);
		expect(withLinks.results[0].url).toBe(`${PORTAL}/crm/deal/details/5100/`);
		await records('deal', 'acme', undefined, twice);
		expect(meRequests('twice')).toHaveLength(2);
		expect(meRequests('once')).toHaveLength(1);
	});

	test('works with an OAuth application key and its session', async () => {
		const found = await records('deal', 'rollout', undefined, app());

		expect(found.results).toEqual([{ name: 'Acme rollout (#5041)', value: '5041', url: `${PORTAL}/crm/deal/details/5041/` }]);
		expect(searches()[0]).toMatchObject({ apiKeyId: 'app', authScheme: 'Bearer' });
	});

	test('a key without the crm scope gives the mapped error', async () => {
		await expect(records('deal', undefined, undefined, { apiKey: SEEDED.noScope, baseUrl: box.sandbox.url })).rejects.toMatchObject({
			message: 'The API key may not use the CRM',
			description: expect.stringContaining('Enable the "crm" scope for this key'),
		});
		await expect(records('deal', undefined, undefined, { apiKey: SEEDED.management, baseUrl: box.sandbox.url })).rejects.toMatchObject({
			message: 'A management key cannot access CRM data',
		});
	});

	test('Bitrix24 refusing the records says what to check, not that triggers need an application key', async () => {
		box.sandbox.injectFault({
			kind: 'error',
			status: 403,
			body: { success: false, error: { code: 'BITRIX_ACCESS_DENIED', message: 'Access denied' } },
			match: { path: '/v1/deals/search' },
		});
		await expect(records('deal')).rejects.toMatchObject({
			message: 'Bitrix24 denied access to these records',
			description: expect.stringContaining('"crm" scope'),
		});
	});

	test('an Entity Type from an expression, or an unknown one, gives a clear error and sends nothing', async () => {
		await expect(records('={{ $json.type }}')).rejects.toMatchObject({
			message: 'Entity Type is an expression, so there is no list to show',
			description: expect.stringContaining('"By ID"'),
		});
		await expect(records('task')).rejects.toMatchObject({
			message: 'Unknown Entity Type "task"',
			description: 'Choose one of: Deal, Lead, Contact, Company, Quote, Invoice.',
		});
		expect(box.sandbox.requests).toHaveLength(0);
	});
});

describe('Fire Trigger with an Entity ID picked from the list', () => {
	test('fires for the picked record', async () => {
		const [picked] = (await records('deal', 'Acme rollout')).results;
		const result = await runWorkflow({
			parameters: {
				...fireParameters({ mode: 'list', entityId: picked.value, triggerMode: 'code' }),
				entityId: { __rl: true, mode: 'list', value: picked.value, cachedResultName: picked.name, cachedResultUrl: picked.url },
			},
			credentials: personal(),
		});

		expect(result.error).toBeUndefined();
		expect(result.main.map((item) => item.json)).toEqual([
			{ success: true, entityType: 'deal', entityId: 5041, triggerId: 'payment_received' },
		]);
		expect(box.sandbox.fires).toMatchObject([{ entityType: 'deal', entityId: 5041, triggerId: 'payment_received' }]);
	});

	test('examples/fire-trigger-for-one-deal.json: the picked deal is one the list offers, and it fires', async () => {
		const { parameters } = example.nodes.find((n) => n.name === 'Fire Trigger') ?? {};
		const { entityType, entityId } = parameters ?? {};
		if (!entityType || !entityId) throw new Error('the example has no Fire Trigger node with a picked record');
		const offered = (await records(entityType, 'rollout')).results;
		expect(offered).toContainEqual({ name: entityId.cachedResultName, value: entityId.value, url: entityId.cachedResultUrl });

		const result = await runWorkflow({ parameters: parameters as INodeParameters, credentials: personal() });
		expect(result.error).toBeUndefined();
		expect(box.sandbox.fires).toMatchObject([{ entityType: 'deal', entityId: 5041, triggerId: 'payment_received' }]);
	});

	test('a picked value that is not an ID is refused before sending', async () => {
		const result = await runWorkflow({
			parameters: fireParameters({ mode: 'list', entityId: 'Acme rollout', options: FAST }),
			credentials: personal(),
			onError: 'continueRegularOutput',
		});

		expect((result.main[0].json.error as IDataObject).message).toBe('Invalid Entity ID "Acme rollout" in item 0');
		expect(box.sandbox.fires).toHaveLength(0);
	});
});
