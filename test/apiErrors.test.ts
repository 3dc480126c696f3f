import type { IDataObject } from 'n8n-workflow';

import { apiError, details, errorMessage, FAST, fireParameters, listParameters } from './helpers';
import { runWorkflow } from './harness/runWorkflow';
import { useVirtualClock } from './harness/virtualClock';
import { fireBodies, fireWith, SEEDED, useSandbox } from './sandboxRun';

// The node's waits (pacing, retries) take no real time; none is asserted here.
useVirtualClock();
const box = useSandbox();
const fire = fireWith(box);
/** The sandbox answers the next fire with this status and body. */
const answerFire = (status: number, body: IDataObject) =>
	box.sandbox.injectFault({ kind: 'error', status, body, match: { path: '/v1/triggers/fire' } });

const MAY_HAVE_FIRED = /may already have fired/;

// Every documented error code, as the gateway sends it: [status, code, message users see, hint pattern]
const documented: Array<[number, string, string, RegExp]> = [
	[400, 'MISSING_PARAMS', 'Vibecode says a required field is missing', /Fill in Entity Type, Entity ID and Trigger/],
	[400, 'INVALID_ENTITY_TYPE', 'Vibecode does not know this entity type', /Choose Deal, Lead/],
	[401, 'MISSING_API_KEY', 'No Vibecode API key was sent', /paste your key/],
	[401, 'INVALID_API_KEY', 'The Vibecode API key is invalid or expired', /Create a new key/],
	[401, 'INVALID_APP_KEY', 'The OAuth application key needs a user session token', /Session Token/],
	[401, 'TOKEN_MISSING', 'The API key has no active Bitrix24 session', /Session Token/],
	[401, 'TOKEN_EXPIRED', 'The Bitrix24 user session has expired', /Re-authorize via \/v1\/oauth\/authorize/],
	[402, 'PAYMENT_REQUIRED', 'The Vibecode credit budget is used up', /Top up the balance/],
	[403, 'SCOPE_DENIED', 'The API key may not use the CRM', /"crm" scope/],
	[403, 'BITRIX_ACCESS_DENIED', 'Bitrix24 denied access to this record', /may edit this record/],
	[403, 'OAUTH_REQUIRED', 'This needs an OAuth application key', /OAuth application key/],
	[403, 'WRITE_BLOCKED_READONLY_KEY', 'The API key is read-only', /write access/],
	[403, 'MANAGEMENT_KEY_NO_ENTITY_ACCESS', 'A management key cannot access CRM data', /vibe_live_/],
	[429, 'RATE_LIMITED', 'Too many requests for this API key', /Requests per Minute/],
	[500, 'INTERNAL_ERROR', 'Vibecode had an internal error', MAY_HAVE_FIRED],
	[502, 'BITRIX_UNAVAILABLE', 'The Bitrix24 portal did not answer', MAY_HAVE_FIRED],
	[504, 'QUEUE_TIMEOUT', 'The Vibecode gateway timed out', MAY_HAVE_FIRED],
];

describe('API errors become clear messages', () => {
	test.each(documented)('%i %s', async (status, code, message, hint) => {
		answerFire(status, apiError(code, 'Сообщение шлюза', { retryAfter: 0 }));
		const result = await fire([{ id: 1 }], {
			onError: 'continueErrorOutput',
			options: { ...FAST, maxRateLimitRetries: 0 },
		});

		expect(fireBodies(box.sandbox)).toHaveLength(1);
		expect(errorMessage(result.errors[0])).toBe(message);
		expect(details(result.errors[0])).toMatchObject({ code, httpCode: status, hint: expect.stringMatching(hint) });
		expect(details(result.errors[0]).description).toContain('Vibecode said: "Сообщение шлюза"');
	});

	test("the API's own hint and a Russian userMessage are kept", async () => {
		answerFire(
			402,
			apiError('PAYMENT_REQUIRED', 'Credit budget exhausted', {
				hint: 'Top up at vibecode.bitrix24.tech/billing',
				userMessage: 'Недостаточно кредитов на балансе',
			}),
		);
		const result = await fire([{ id: 1 }], { onError: 'stopWorkflow' });

		expect(result.error?.message).toBe('The Vibecode credit budget is used up');
		expect(result.error?.description).toBe(
			'Top up the balance in the Vibecode dashboard, then run the workflow again. Vibecode\'s hint: Top up at vibecode.bitrix24.tech/billing Vibecode said: "Credit budget exhausted — Недостаточно кредитов на балансе"',
		);
	});

	// Codes the node does not know keep their own code, the API's words and a hint that is true of the status alone.
	test.each([
		[404, 'TRIGGER_NOT_FOUND', /^Vibecode refused the request, so the trigger did not fire\. Its message below says why/],
		[400, 'ENTITY_NOT_FOUND', /^Vibecode refused the request, so the trigger did not fire\./],
		[418, 'TEAPOT', /^Vibecode refused the request, so the trigger did not fire\./],
		[503, 'MAINTENANCE', MAY_HAVE_FIRED],
	])('an unknown %i %s keeps its own code and borrows no other code\'s advice', async (status, code, hint) => {
		answerFire(status, apiError(code, 'Нет такой записи', { hint: 'Check the ID' }));
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		const error = details(result.errors[0]);
		expect(error.message).toBe(`Vibecode refused the request (${code}, HTTP ${status})`);
		expect(error).toMatchObject({ code, httpCode: status, hint: expect.stringMatching(hint) });
		expect(error.description).toContain("Vibecode's hint: Check the ID");
		expect(error.description).toContain('Vibecode said: "Нет такой записи"');
		expect(error.description).not.toMatch(/Base URL|Fill in Entity Type/);
	});

	test('HTTP 200 with success: false is a failure, not a success', async () => {
		answerFire(200, apiError('INTERNAL_ERROR', 'Что-то пошло не так'));
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(result.main).toEqual([]);
		expect(errorMessage(result.errors[0])).toBe('Vibecode had an internal error');
		expect(details(result.errors[0]).hint).toMatch(MAY_HAVE_FIRED);
	});

	test('an HTML error page from a proxy', async () => {
		box.sandbox.injectFault({ kind: 'html502' });
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(fireBodies(box.sandbox)).toHaveLength(1);
		expect(errorMessage(result.errors[0])).toBe('Vibecode answered with something that is not JSON');
		expect(details(result.errors[0])).toMatchObject({ code: 'NON_JSON_RESPONSE', httpCode: 502 });
	});

	test('malformed JSON with status 200', async () => {
		box.sandbox.injectFault({ kind: 'malformed' });
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('Vibecode answered with something that is not JSON');
	});

	test('an empty body', async () => {
		box.sandbox.injectFault({ kind: 'empty' });
		const result = await fire([{ id: 1 }], { onError: 'continueErrorOutput' });

		expect(errorMessage(result.errors[0])).toBe('Vibecode sent an empty answer');
		expect(details(result.errors[0]).hint).toMatch(MAY_HAVE_FIRED);
	});

	test('a timeout, with the node setting "Timeout"', async () => {
		// Never answered: the node gives up after its 200 ms.
		box.sandbox.injectFault({ kind: 'slow', delayMs: -1 });
		const result = await runWorkflow({
			parameters: { ...fireParameters(), requestOptions: { timeout: 200 } },
			items: [{ id: 1 }],
			onError: 'continueErrorOutput',
			credentials: { apiKey: SEEDED.personal, baseUrl: box.sandbox.url },
		});

		expect(errorMessage(result.errors[0])).toBe('Vibecode did not answer in time');
		expect(details(result.errors[0]).hint).toMatch(/"Timeout"/);
	});

	test('List Triggers with a personal key explains the OAuth application requirement', async () => {
		// The sandbox answers a personal key's list as the gateway does: 403 BITRIX_ACCESS_DENIED, "Access denied! Application context required".
		const result = await runWorkflow({
			parameters: listParameters(),
			credentials: { apiKey: SEEDED.personal, baseUrl: box.sandbox.url },
		});

		expect(result.error?.message).toBe('Listing triggers needs an OAuth application key');
		expect(result.error?.description).toMatch(/vibe_app_.*session token.*personal key \(vibe_api_…\) can still fire triggers/);
		expect(result.error?.description).toContain('in the Trigger field switch from "From List" to "By Code"');
	});
});
