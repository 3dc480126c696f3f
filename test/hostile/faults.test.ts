import { apiError, details, errorMessage, FAST, fireParameters, listParameters } from '../helpers';
import { runWorkflow } from '../harness/runWorkflow';
import { useVirtualClock } from '../harness/virtualClock';
import { SEEDED, useSandbox } from '../sandboxRun';
import type { Fault } from '../sandbox/server';
import { firedTwice, freshKey, outcomes } from './support';

const box = useSandbox();
const clock = useVirtualClock();
const MAY_HAVE_FIRED = /may already have fired/;

type Operation = 'fire' | 'list';
const PATH = { fire: '/v1/triggers/fire', list: '/v1/triggers' };

interface Setup {
	apiKey: string;
	sessionToken?: string;
	timeout?: number;
}

/** A key of the test's own that may do the operation. */
const goodKey = (operation: Operation): Setup =>
	operation === 'fire'
		? { apiKey: freshKey(box.sandbox) }
		: { apiKey: freshKey(box.sandbox, { prefix: 'vibe_app_' }), sessionToken: SEEDED.session };

/**
 * Fire Trigger for three records or List Triggers for two input items, with the error output.
 * One request at a time, so the first request the sandbox sees is item 0's.
 */
async function run(operation: Operation, { apiKey, sessionToken, timeout }: Setup) {
	const options = { ...FAST, maxConcurrent: 1 };
	const parameters = operation === 'fire' ? fireParameters({ options }) : listParameters(options);
	const items = operation === 'fire' ? [{ id: 1 }, { id: 2 }, { id: 3 }] : [{}, {}];
	const result = await runWorkflow({
		parameters: timeout ? { ...parameters, requestOptions: { timeout } } : parameters,
		items,
		onError: 'continueErrorOutput',
		credentials: { apiKey, sessionToken: sessionToken ?? '', baseUrl: box.sandbox.url },
	});
	// Throws unless every input item is on exactly one output.
	return outcomes(result, items.length);
}

const transport: Array<[string, Fault, string]> = [
	['an HTML 502 page', { kind: 'html502' }, 'Vibecode answered with something that is not JSON'],
	['a JSON 502 BITRIX_UNAVAILABLE', { kind: 'json502' }, 'The Bitrix24 portal did not answer'],
	['a 504 with retryAfter', { kind: 'timeout504' }, 'The Vibecode gateway timed out'],
	['a reset before the body was sent', { kind: 'resetBeforeBody' }, 'The connection to Vibecode broke before an answer arrived'],
	['a reset after the body was sent', { kind: 'resetAfterBody' }, 'The connection to Vibecode broke before an answer arrived'],
	['an answer slower than the Timeout setting', { kind: 'slow', delayMs: 2_000 }, 'Vibecode did not answer in time'],
	['malformed JSON', { kind: 'malformed' }, 'Vibecode answered with something that is not JSON'],
	['an empty body', { kind: 'empty' }, 'Vibecode sent an empty answer'],
	['200 with success: false', { kind: 'successFalse' }, 'Vibecode had an internal error'],
	['402 with a Russian userMessage', { kind: 'billing402' }, 'The Vibecode credit budget is used up'],
];
// Failures after which the request may have reached Bitrix24 (and a read is tried once more).
const ambiguous = (fault: Fault) => fault.kind !== 'billing402';

describe.each<Operation>(['fire', 'list'])('%s: a fault on the first request', (operation) => {
	test.each(transport)('%s', async (_label, fault, message) => {
		const setup = { ...goodKey(operation), timeout: fault.kind === 'slow' ? 300 : undefined };
		// Fire: Bitrix24 ran the fire before the answer was lost, where that can happen.
		const apply = operation === 'fire' && ambiguous(fault) && fault.kind !== 'resetBeforeBody';
		const times = operation === 'list' && ambiguous(fault) ? 2 : 1;
		box.sandbox.injectFault({ ...fault, apply, times, match: { path: PATH[operation] } });

		const [first, ...rest] = await run(operation, setup);

		expect(first.error && errorMessage(first.error)).toBe(message);
		expect(rest.map((outcome) => Boolean(outcome.ok))).toEqual(rest.map(() => true));
		if (fault.kind === 'billing402') {
			expect(details(first.error!).description).toContain('Недостаточно кредитов на балансе');
		}
		if (operation === 'fire') {
			expect(details(first.error!).hint).toMatch(ambiguous(fault) ? MAY_HAVE_FIRED : /Top up the balance/);
			// Never resent: one request per item, and the sandbox holds each record at most once.
			expect(box.sandbox.requests.filter((r) => r.path === PATH.fire)).toHaveLength(3);
			expect(box.sandbox.fires.map((f) => f.entityId).sort()).toEqual(apply ? [1, 2, 3] : [2, 3]);
			expect(firedTwice(box.sandbox)).toEqual([]);
		} else {
			const reads = box.sandbox.requests.filter((r) => r.path === PATH.list);
			expect(reads).toHaveLength(times + 1);
			// The read is tried again only after the 2 s the 504 asked for; the second 504 then
			// pauses the key for a second before the next read (a busy gateway: README, Bulk firing).
			if (fault.kind === 'timeout504') expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(2_000 + 1_000);
		}
	}, 15_000);
});

const refusal = (status: number, code: string): Fault => ({
	kind: 'error',
	status,
	body: apiError(code, 'Отказано'),
	times: Infinity,
});

// Each documented 401/403, from the sandbox's seeded keys where they produce it:
// [label, cause, message, message for List Triggers where it differs].
const refused: Array<[string, (operation: Operation) => Setup | Fault, string, string?]> = [
	['401 MISSING_API_KEY', () => ({ apiKey: '' }), 'No Vibecode API key was sent'],
	['401 INVALID_API_KEY', () => ({ apiKey: SEEDED.expired }), 'The Vibecode API key is invalid or expired'],
	['401 INVALID_APP_KEY', () => refusal(401, 'INVALID_APP_KEY'), 'The OAuth application key needs a user session token'],
	['401 TOKEN_MISSING', () => ({ apiKey: SEEDED.app }), 'The API key has no active Bitrix24 session'],
	[
		'401 TOKEN_EXPIRED',
		() => ({ apiKey: SEEDED.app, sessionToken: SEEDED.expiredSession }),
		'The Bitrix24 user session has expired',
	],
	['403 SCOPE_DENIED', () => ({ apiKey: SEEDED.noScope }), 'The API key may not use the CRM'],
	[
		'403 BITRIX_ACCESS_DENIED',
		(operation) => (operation === 'fire' ? refusal(403, 'BITRIX_ACCESS_DENIED') : { apiKey: SEEDED.personal }),
		'Bitrix24 denied access to this record',
		'Listing triggers needs an OAuth application key',
	],
	['403 OAUTH_REQUIRED', () => refusal(403, 'OAUTH_REQUIRED'), 'This needs an OAuth application key'],
	['403 MANAGEMENT_KEY_NO_ENTITY_ACCESS', () => ({ apiKey: SEEDED.management }), 'A management key cannot access CRM data'],
];

// A read-only key may list; only a write gets this code.
const fireOnly: typeof refused = [
	['403 WRITE_BLOCKED_READONLY_KEY', () => ({ apiKey: SEEDED.readOnly }), 'The API key is read-only'],
];

describe.each<Operation>(['fire', 'list'])('%s: a refused key fails every item with its own message', (operation) => {
	const cases = [...refused, ...(operation === 'fire' ? fireOnly : [])].map(
		([label, cause, message, listMessage]) => [label, cause, (operation === 'list' && listMessage) || message] as const,
	);
	test.each(cases)('%s', async (_label, cause, message) => {
		const made = cause(operation);
		let setup: Setup;
		if ('kind' in made) {
			setup = goodKey(operation);
			box.sandbox.injectFault({ ...made, match: { path: PATH[operation] } });
		} else {
			setup = made;
		}

		const outcomes = await run(operation, setup);

		expect(outcomes.map((outcome) => outcome.error && errorMessage(outcome.error))).toEqual(outcomes.map(() => message));
		// Not retried, nothing fired. An application key with a session asks for its trigger list
		// first: when that is refused for the key or the session, no fire is sent at all.
		const listRefusedFirst = operation === 'fire' && setup.apiKey.startsWith('vibe_app_') && Boolean(setup.sessionToken);
		const sent = box.sandbox.requests.filter((r) => r.path === PATH[operation]);
		expect(sent).toHaveLength(listRefusedFirst ? 0 : outcomes.length);
		expect(box.sandbox.fires).toEqual([]);
	});
});
