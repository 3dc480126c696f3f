// Before anything that loads n8n.
import { logged, printed } from './captureLogs';

import type { ICredentialDataDecryptedObject as Credentials, IDataObject } from 'n8n-workflow';

import { apiError, FAST, fireParameters, listParameters } from '../helpers';
import { runWorkflow, type OnError } from '../harness/runWorkflow';
import { searchList } from '../harness/searchList';
import { testCredential } from '../harness/testCredential';
import { useVirtualClock } from '../harness/virtualClock';
import { useSandbox } from '../sandboxRun';
import { startSandbox, type Fault } from '../sandbox/server';
import { callAsTool, TOOL_PATHS } from './agentRun';

// The node's waits (retries, pacing) take no time: what is searched is what the runs show, not when.
useVirtualClock();
const box = useSandbox();

const KEYS = {
	personal: 'vibe_api_SECRETpersonal7f3a9c',
	app: 'vibe_app_SECRETapp81b2e4',
	session: 'vibe_session_SECRETuser5d6e0f',
	expiredSession: 'vibe_session_SECRETexpired2c4b',
	expired: 'vibe_api_SECRETexpired9e1d',
	unknown: 'vibe_api_SECRETunknown6a0c',
	noScope: 'vibe_api_SECRETnoscope3f8e',
	readOnly: 'vibe_api_SECRETreadonly4b7a',
	management: 'vibe_live_SECRETmgmt1c5d',
};
// A secret also counts as leaked without its prefix, or base64-encoded (as in a Basic header).
const NEEDLES = Object.entries(KEYS).flatMap(([name, secret]) => [
	[name, secret],
	[`${name} without prefix`, secret.replace(/^vibe_[a-z]+_/, '')],
	[`${name} in base64`, Buffer.from(secret).toString('base64')],
]);

/** Everything a user or n8n can see after each run: outputs, errors, serialized run data. */
const seen: Array<{ where: string; text: string }> = [];

const keep = (where: string, value: unknown) => seen.push({ where, text: printed(value) });

function leaks(sinks: Array<{ where: string; text: string }>) {
	return sinks.flatMap(({ where, text }) =>
		NEEDLES.filter(([, needle]) => text.includes(needle)).map(([name]) => `${name} in ${where}`),
	);
}

beforeAll(() => {
	const { sandbox } = box;
	for (const [name, spec] of Object.entries({
		personal: {},
		app: {},
		expired: { expired: true },
		noScope: { scopes: ['user'] },
		readOnly: { readOnly: true },
		management: {},
	})) {
		sandbox.addKey(KEYS[name as keyof typeof KEYS], { id: `secret-${name}`, ...spec });
	}
	sandbox.addSession(KEYS.session);
	sandbox.addSession(KEYS.expiredSession, { expired: true });
});
// Each test searches what its own runs left; the last one searches the logs of them all.
beforeEach(() => {
	seen.length = 0;
});
afterAll(() => jest.restoreAllMocks());

const personal = () => ({ apiKey: KEYS.personal, baseUrl: box.sandbox.url });
const app = () => ({ apiKey: KEYS.app, sessionToken: KEYS.session, baseUrl: box.sandbox.url });

const FAULTS: Fault[] = [
	{ kind: 'html502' },
	{ kind: 'json502' },
	{ kind: 'timeout504' },
	{ kind: 'resetBeforeBody' },
	{ kind: 'resetAfterBody', apply: true },
	{ kind: 'slow', delayMs: 1_000 },
	{ kind: 'malformed' },
	{ kind: 'empty' },
	{ kind: 'successFalse' },
	{ kind: 'billing402' },
	{ kind: 'error', status: 429, body: apiError('RATE_LIMITED', 'QUERY_LIMIT_EXCEEDED', { retryAfter: 0 }) },
];

async function runAndKeep(
	where: string,
	operation: 'fire' | 'list',
	credentials: Credentials,
	onError: OnError,
	items: IDataObject[] = [{ id: 1 }, { id: 'abc' }, { id: 3 }],
) {
	const options = { ...FAST, maxConcurrent: 1, maxRateLimitRetries: 0 };
	const parameters = operation === 'fire' ? fireParameters({ options }) : listParameters(options);
	const result = await runWorkflow({
		parameters: { ...parameters, requestOptions: { timeout: 300 } },
		items,
		onError,
		credentials,
	});
	keep(`${where}: run data`, result.run);
	keep(`${where}: outputs`, [result.main, result.errors]);
	keep(`${where}: error`, result.error);
	return result;
}

describe('The API key and session token never show', () => {
	test('in outputs, errors and run data of every fault, in both On Error modes', async () => {
		const runs = [
			['fire', personal(), 'continueErrorOutput'],
			['fire', personal(), 'stopWorkflow'],
			// Slower (a failed read is tried again after a pause): one mode is enough.
			['list', app(), 'continueErrorOutput'],
		] as const;
		for (const [operation, credentials, onError] of runs) {
			for (const fault of FAULTS) {
				box.sandbox.reset();
				box.sandbox.injectFault({ ...fault, times: 2, match: { path: operation === 'fire' ? '/v1/triggers/fire' : '/v1/triggers' } });
				const result = await runAndKeep(`${operation} ${fault.kind} ${onError}`, operation, credentials, onError);
				// Every run did fail somewhere, or this test would prove nothing.
				expect(result.errors.length + (result.error ? 1 : 0)).toBeGreaterThan(0);
			}
		}
		expect(leaks(seen)).toEqual([]);
	}, 60_000);

	test('in what a refused key or session leads to', async () => {
		const url = box.sandbox.url;
		const refused: Array<[string, 'fire' | 'list', Credentials]> = [
			['unknown key', 'fire', { apiKey: KEYS.unknown, baseUrl: url }],
			['expired key', 'list', { apiKey: KEYS.expired, baseUrl: url }],
			['app key without session', 'fire', { apiKey: KEYS.app, baseUrl: url }],
			['expired session', 'list', { apiKey: KEYS.app, sessionToken: KEYS.expiredSession, baseUrl: url }],
			['no key but a session', 'fire', { apiKey: '', sessionToken: KEYS.session, baseUrl: url }],
			['no crm scope', 'fire', { apiKey: KEYS.noScope, baseUrl: url }],
			['read-only key', 'fire', { apiKey: KEYS.readOnly, baseUrl: url }],
			['management key', 'list', { apiKey: KEYS.management, baseUrl: url }],
			['personal key listing', 'list', { apiKey: KEYS.personal, sessionToken: KEYS.session, baseUrl: url }],
		];
		for (const [label, operation, credentials] of refused) {
			for (const onError of ['continueErrorOutput', 'stopWorkflow'] as const) {
				await runAndKeep(`${label} ${onError}`, operation, credentials, onError);
			}
		}
		const closed = await startSandbox();
		await closed.close();
		await runAndKeep('connection refused', 'fire', { ...app(), baseUrl: closed.url }, 'stopWorkflow');
		expect(leaks(seen)).toEqual([]);
	}, 30_000);

	test('in the credential test and the trigger list search', async () => {
		const url = box.sandbox.url;
		const closed = await startSandbox();
		await closed.close();
		const credentials: Array<[string, Credentials]> = [
			['valid personal', { apiKey: KEYS.personal, baseUrl: url }],
			['valid app', app()],
			['unknown key', { apiKey: KEYS.unknown, sessionToken: KEYS.session, baseUrl: url }],
			['app key without session', { apiKey: KEYS.app, baseUrl: url }],
			['expired session', { apiKey: KEYS.app, sessionToken: KEYS.expiredSession, baseUrl: url }],
			['no crm scope', { apiKey: KEYS.noScope, baseUrl: url }],
			['unreachable', { ...app(), baseUrl: closed.url }],
		];
		const attempt = async (where: string, call: () => Promise<unknown>) => {
			try {
				keep(where, await call());
			} catch (error) {
				keep(`${where} (thrown)`, error);
			}
		};
		for (const [label, data] of credentials) {
			await attempt(`credential test, ${label}`, async () => await testCredential(data));
			await attempt(`trigger search, ${label}`, async () => await searchList('searchTriggers', data, 'pay'));
		}
		box.sandbox.injectFault({ kind: 'html502', times: 2 });
		await attempt('trigger search, HTML 502', async () => await searchList('searchTriggers', app()));
		box.sandbox.injectFault({ kind: 'html502' });
		await attempt('credential test, HTML 502', async () => await testCredential(app()));
		expect(leaks(seen)).toEqual([]);
	}, 30_000);

	test('in an AI Agent tool run with bad arguments', async () => {
		const parameters = fireParameters({
			entityId: "={{ $fromAI('entityId', 'The ID of the CRM record', 'number') }}",
			trigger: "={{ $fromAI('trigger', 'The trigger code', 'string') }}",
			options: FAST,
		});
		const calls = [{ entityId: 'abc', trigger: 'x' }, { entityId: 5, trigger: 'bad code' }, { entityId: 7, trigger: 'ok' }];
		box.sandbox.injectFault({ kind: 'json502', times: 2 });
		for (const path of TOOL_PATHS) {
			const { results, run } = await callAsTool({ parameters, calls, path, credentials: app() });
			keep(`tool (${path}): results`, results);
			keep(`tool (${path}): run data`, run);
		}
		expect(leaks(seen)).toEqual([]);
	});

	test('in anything logged meanwhile, at debug level', () => {
		const text = logged.join('');
		// The capture worked and n8n did log at debug level.
		expect(text).toContain('Start executing node');
		expect(text).toMatch(/"level":"debug"/);
		expect(leaks([{ where: 'the logs', text }])).toEqual([]);
	});
});
