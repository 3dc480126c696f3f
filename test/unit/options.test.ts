import { NodeOperationError } from 'n8n-workflow';

import { readOptions } from '../../nodes/Bitrix24Vibecode/shared/options';
import { NODE, thrownBy } from './support';

// Oracle: the README's options table (defaults and meaning) and "The options are checked once
// per run, before anything is sent, whether typed or set by an expression ("false" and "600"
// as text are fine; an expression that gives nothing, a fraction where a whole number is
// needed or a value out of range is an error naming the option)". Ranges: the editor's.

// Requests per Minute has no default: unset, the key's own limit paces (issue 18).
const DEFAULTS = {
	maxConcurrent: 5,
	maxRateLimitRetries: 5,
	maxRateLimitWaitSeconds: 60,
	retryAmbiguousFires: false,
	checkTriggerCodes: true,
	checkRecords: true,
	fireOnce: false,
	fireOnceMaxKeys: 10000,
	reportStageChange: true,
	whenNotMoved: 'report',
	rehearse: false,
};

const LABELS: Record<string, string> = {
	requestsPerMinute: 'Requests per Minute',
	maxConcurrent: 'Max Concurrent Requests',
	maxRateLimitRetries: 'Max Retries on Rate Limit',
	maxRateLimitWaitSeconds: 'Max Wait on Rate Limit (Seconds)',
	retryAmbiguousFires: 'Retry Failed Fires (May Fire Twice)',
	checkTriggerCodes: 'Check Trigger Codes',
	checkRecords: 'Check Records Exist',
	fireOnce: 'Fire Once Across Executions',
	fireOnceMaxKeys: 'Fire Once Keys Remembered',
	reportStageChange: 'Report Stage Change',
	whenNotMoved: 'When the Record Did Not Move',
	rehearse: 'Rehearse (Fire Nothing)',
};

describe('readOptions: accepted', () => {
	test.each([undefined, null, {}, 'not a collection'])('%p gives the defaults', (raw) => {
		expect(readOptions(NODE, 0, raw)).toEqual(DEFAULTS);
	});

	test('typed values are used as they are', () => {
		const typed = {
			requestsPerMinute: 600,
			maxConcurrent: 20,
			maxRateLimitRetries: 0,
			maxRateLimitWaitSeconds: 600,
			retryAmbiguousFires: true,
			checkTriggerCodes: false,
			checkRecords: false,
			fireOnce: true,
			fireOnceMaxKeys: 50,
			reportStageChange: false,
			whenNotMoved: 'fail',
			rehearse: true,
		};
		expect(readOptions(NODE, 0, typed)).toEqual(typed);
	});

	test('an option not set keeps its default', () => {
		expect(readOptions(NODE, 0, { maxConcurrent: 1 })).toEqual({ ...DEFAULTS, maxConcurrent: 1 });
	});

	test.each<[string, unknown, number | boolean | string]>([
		['checkTriggerCodes', 'false', false],
		['checkTriggerCodes', 'true', true],
		['retryAmbiguousFires', 'true', true],
		['retryAmbiguousFires', 'false', false],
		['maxRateLimitWaitSeconds', '600', 600],
		['requestsPerMinute', '300', 300],
		['maxConcurrent', '5', 5],
		['maxRateLimitRetries', '0', 0],
		['maxRateLimitWaitSeconds', '0', 0],
		['maxRateLimitWaitSeconds', '2.5', 2.5],
		['requestsPerMinute', '1', 1],
		['requestsPerMinute', 1000000, 1000000],
		['maxConcurrent', 100, 100],
		['maxRateLimitRetries', 20, 20],
		['maxConcurrent', '3.0', 3],
		['reportStageChange', 'false', false],
		['rehearse', 'true', true],
		['whenNotMoved', 'fail', 'fail'],
		['whenNotMoved', ' report ', 'report'],
	])('%s as %p from an expression is %p', (name, given, expected) => {
		expect(readOptions(NODE, 0, { [name]: given })).toEqual({ ...DEFAULTS, [name]: expected });
	});
});

describe('readOptions: refused, naming the option and the item', () => {
	test.each<[string, unknown, string]>([
		// Out of range.
		['requestsPerMinute', 0, '0'],
		['requestsPerMinute', -300, '-300'],
		['requestsPerMinute', 1000001, '1000001'],
		['maxConcurrent', 0, '0'],
		['maxConcurrent', 101, '101'],
		['maxRateLimitRetries', -1, '-1'],
		['maxRateLimitRetries', 21, '21'],
		['maxRateLimitWaitSeconds', -1, '-1'],
		['maxRateLimitWaitSeconds', 601, '601'],
		['maxRateLimitWaitSeconds', '601', '601'],
		// A fraction where a whole number is needed.
		['maxConcurrent', 2.5, '2.5'],
		['maxConcurrent', '2.5', '2.5'],
		['maxRateLimitRetries', 1.5, '1.5'],
		// Not a number.
		['requestsPerMinute', 'fast', 'fast'],
		['requestsPerMinute', '300/min', '300/min'],
		['maxConcurrent', true, 'true'],
		['requestsPerMinute', Number.NaN, 'null'],
		['requestsPerMinute', Number.POSITIVE_INFINITY, 'null'],
		// Not a boolean.
		['checkTriggerCodes', 'yes', 'yes'],
		['retryAmbiguousFires', 1, '1'],
		['retryAmbiguousFires', 'on', 'on'],
		['rehearse', 'maybe', 'maybe'],
		// Not one of the choices.
		['whenNotMoved', 'stop', 'stop'],
		['whenNotMoved', true, 'true'],
	])('%s = %p', (name, given, shown) => {
		const error = thrownBy(() => readOptions(NODE, 3, { [name]: given }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe(`Invalid ${LABELS[name]} "${shown}" in item 3`);
		expect((error as NodeOperationError).context.itemIndex).toBe(3);
		const description = (error as NodeOperationError).description ?? '';
		expect(description).toContain(`"${LABELS[name]}"`);
		const rule = ['checkTriggerCodes', 'retryAmbiguousFires', 'rehearse'].includes(name)
			? /true or false/
			: name === 'whenNotMoved'
				? /one of "report" \(Report It\), "fail" \(Fail the Item\)/
				: /from -?\d+ to \d+/;
		expect(description).toMatch(rule);
	});

	test.each<[string, unknown]>([
		['maxConcurrent', undefined],
		['requestsPerMinute', null],
		['maxRateLimitWaitSeconds', ''],
		['checkTriggerCodes', undefined],
		['whenNotMoved', ''],
	])('%s: an expression that gave %p', (name, given) => {
		const error = thrownBy(() => readOptions(NODE, 0, { [name]: given }));
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toMatch(new RegExp(`^Invalid ${LABELS[name].replace(/[()]/g, '\\$&')} ".*" in item 0$`));
		expect((error as NodeOperationError).description).toMatch(/gave nothing/);
	});

	test('whole numbers are asked for where fractions make no sense', () => {
		const error = thrownBy(() => readOptions(NODE, 0, { maxConcurrent: 2.5 })) as NodeOperationError;
		expect(error.description).toMatch(/whole number from 1 to 100/);
	});

	test('the first invalid option is named, with the item it was read for', () => {
		const error = thrownBy(() => readOptions(NODE, 1, { maxConcurrent: 0, requestsPerMinute: 'x' }));
		expect(error.message).toMatch(/^Invalid (Max Concurrent Requests "0"|Requests per Minute "x") in item 1$/);
	});
});
