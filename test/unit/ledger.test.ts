import type { Failure } from '../../nodes/Bitrix24Vibecode/transport/failure';
import type { Sent } from '../../nodes/Bitrix24Vibecode/transport/request';
import { atMostOnce, fireKey, recall } from '../../nodes/Bitrix24Vibecode/resources/trigger/ledger';
import type { FireInput } from '../../nodes/Bitrix24Vibecode/resources/trigger/fireInput';
import { settle } from './support';

// Oracle: the README's "n8n's Retry On Fail is safe to turn on": for a run and all its tries, a
// fire that succeeded is answered again without being sent, a fire that may have reached
// Bitrix24 keeps its error, and only fires that never reached Bitrix24 are sent again.

const FIRE: FireInput = { entityType: 'deal', entityId: 5141, triggerId: 'payment_received' };
const KEY = fireKey('Bitrix24 Vibecode', 0, FIRE);

const firedOk: Sent = { body: { success: true, data: true } };
const failed = (code: string, httpCode: string): Sent => ({ failure: { code, httpCode } as Failure });

/** A send that answers from a script and counts its calls. */
function scriptedSend(...answers: Array<Sent | Error>) {
	return jest.fn(async (): Promise<Sent> => {
		const answer = answers.shift();
		if (answer === undefined) throw new Error('a send the test did not script');
		if (answer instanceof Error) throw answer;
		return answer;
	});
}

describe('atMostOnce and recall', () => {
	test('a success is remembered: the next try of the run gets it without sending', async () => {
		const tries = {};
		const send = scriptedSend(firedOk, firedOk);

		expect(recall(tries, KEY)).toBeUndefined();
		expect(await atMostOnce(tries, KEY, send)).toEqual(firedOk);
		expect(recall(tries, KEY)).toEqual(firedOk);
		expect(await atMostOnce(tries, KEY, send)).toEqual(firedOk);
		expect(send).toHaveBeenCalledTimes(1);
	});

	test.each<[string, Sent]>([
		['502 BITRIX_UNAVAILABLE', failed('BITRIX_UNAVAILABLE', '502')],
		['504 QUEUE_TIMEOUT', failed('QUEUE_TIMEOUT', '504')],
		['500 INTERNAL_ERROR', failed('INTERNAL_ERROR', '500')],
		['a 200 without success', failed('UNKNOWN_FAILURE', '200')],
		['an HTML page from a proxy (502)', failed('NON_JSON_RESPONSE', '502')],
		['a broken connection', failed('ECONNRESET', 'none')],
		['a timeout', failed('TIMEOUT', 'none')],
	])('%s may have fired: remembered, never sent again in the run', async (_name, ambiguous) => {
		const tries = {};
		const send = scriptedSend(ambiguous, firedOk);

		expect(await atMostOnce(tries, KEY, send)).toEqual(ambiguous);
		expect(recall(tries, KEY)).toEqual(ambiguous);
		expect(await atMostOnce(tries, KEY, send)).toEqual(ambiguous);
		expect(send).toHaveBeenCalledTimes(1);
	});

	test.each<[string, Sent]>([
		['403 BITRIX_ACCESS_DENIED', failed('BITRIX_ACCESS_DENIED', '403')],
		['401 TOKEN_EXPIRED', failed('TOKEN_EXPIRED', '401')],
		['400 MISSING_PARAMS', failed('MISSING_PARAMS', '400')],
		['429 RATE_LIMITED', failed('RATE_LIMITED', '429')],
		['connection refused', failed('ECONNREFUSED', 'none')],
		['host not found', failed('ENOTFOUND', 'none')],
		['DNS did not answer', failed('EAI_AGAIN', 'none')],
		['TLS failed', failed('TLS_FAILED', 'none')],
		['an invalid Base URL', failed('INVALID_URL', 'none')],
	])('%s never reached Bitrix24: forgotten, the next try sends', async (_name, refused) => {
		const tries = {};
		const send = scriptedSend(refused, firedOk);

		expect(await atMostOnce(tries, KEY, send)).toEqual(refused);
		expect(recall(tries, KEY)).toBeUndefined();
		expect(await atMostOnce(tries, KEY, send)).toEqual(firedOk);
		expect(send).toHaveBeenCalledTimes(2);
		expect(recall(tries, KEY)).toEqual(firedOk);
	});

	test('a send that throws (a cancelled turn, for one) is forgotten; the error reaches the caller', async () => {
		const tries = {};
		const cancelled = new Error('Not sent: the run stopped before this request was due');
		const send = scriptedSend(cancelled, firedOk);

		await expect(atMostOnce(tries, KEY, send)).rejects.toBe(cancelled);
		expect(recall(tries, KEY)).toBeUndefined();
		expect(await atMostOnce(tries, KEY, send)).toEqual(firedOk);
		expect(send).toHaveBeenCalledTimes(2);
	});

	test('two concurrent tries of the same fire send once and both get its outcome', async () => {
		const tries = {};
		let answer: (sent: Sent) => void = () => undefined;
		const send = jest.fn(async () => await new Promise<Sent>((resolve) => (answer = resolve)));

		const first = atMostOnce(tries, KEY, send);
		const second = atMostOnce(tries, KEY, send);
		await settle(2);
		// Not settled yet: nothing to recall.
		expect(recall(tries, KEY)).toBeUndefined();
		answer(firedOk);

		expect(await Promise.all([first, second])).toEqual([firedOk, firedOk]);
		expect(send).toHaveBeenCalledTimes(1);
	});

	test('two concurrent tries of a refused fire send once; a later try sends again', async () => {
		const tries = {};
		const refused = failed('BITRIX_ACCESS_DENIED', '403');
		let answer: (sent: Sent) => void = () => undefined;
		const send = jest.fn(async () => await new Promise<Sent>((resolve) => (answer = resolve)));

		const both = Promise.all([atMostOnce(tries, KEY, send), atMostOnce(tries, KEY, send)]);
		answer(refused);
		expect(await both).toEqual([refused, refused]);
		expect(send).toHaveBeenCalledTimes(1);

		const later = atMostOnce(tries, KEY, send);
		answer(firedOk);
		expect(await later).toEqual(firedOk);
		expect(send).toHaveBeenCalledTimes(2);
	});

	test('runs are independent: another tries object sends again', async () => {
		const send = scriptedSend(firedOk, firedOk);
		const run1 = {};
		const run2 = {};

		await atMostOnce(run1, KEY, send);
		expect(recall(run2, KEY)).toBeUndefined();
		await atMostOnce(run2, KEY, send);
		expect(send).toHaveBeenCalledTimes(2);
	});

	test('fires are independent: another key of the same run sends', async () => {
		const tries = {};
		const send = scriptedSend(firedOk, firedOk);
		const other = fireKey('Bitrix24 Vibecode', 1, FIRE);

		await atMostOnce(tries, KEY, send);
		expect(recall(tries, other)).toBeUndefined();
		await atMostOnce(tries, other, send);
		expect(send).toHaveBeenCalledTimes(2);
	});
});

describe('fireKey', () => {
	test('the same node, item and record give the same key', () => {
		expect(fireKey('Bitrix24 Vibecode', 2, { ...FIRE })).toBe(fireKey('Bitrix24 Vibecode', 2, { ...FIRE }));
	});

	test.each<[string, string, number, FireInput]>([
		['another node', 'Fire payment', 0, FIRE],
		['another item', 'Bitrix24 Vibecode', 1, FIRE],
		['another entity type', 'Bitrix24 Vibecode', 0, { ...FIRE, entityType: 'lead' }],
		['another record', 'Bitrix24 Vibecode', 0, { ...FIRE, entityId: 5142 }],
		['another trigger', 'Bitrix24 Vibecode', 0, { ...FIRE, triggerId: 'delivery_confirmed' }],
	])('%s gives another key', (_name, nodeName, itemIndex, fire) => {
		expect(fireKey(nodeName, itemIndex, fire)).not.toBe(KEY);
	});

	test('no two of many different fires share a key', () => {
		const keys = new Set<string>();
		let count = 0;
		for (const node of ['A', 'B', 'A 1', '1']) {
			for (const itemIndex of [0, 1, 10, 11]) {
				for (const entityType of ['deal', 'lead'] as const) {
					for (const entityId of [1, 11, 111]) {
						for (const triggerId of ['a', 'a1', '1']) {
							keys.add(fireKey(node, itemIndex, { entityType, entityId, triggerId }));
							count++;
						}
					}
				}
			}
		}
		expect(keys.size).toBe(count);
	});
});
