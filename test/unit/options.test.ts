import { NodeOperationError, type INodeProperties } from 'n8n-workflow';

import {
	DEFAULT_OPTIONS,
	optionsDescription,
	readItemOption,
	readOptions,
	type ItemOptions,
	type Options,
} from '../../nodes/Bitrix24Vibecode/options';
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

// Oracle: the node's Options collection as the editor shows it (the README's options table,
// n8n's lint: alphabetical by display name): which options only Fire Trigger shows, and what
// each field shows before the user changes it.
const FIRE_ONLY = [
	'checkRecords',
	'checkTriggerCodes',
	'fireOnce',
	'fireOnceKey',
	'fireOnceUnanswered',
	'fireOnceMaxKeys',
	'rehearse',
	'reportStageChange',
	'retryAmbiguousFires',
	'whenNotMoved',
];
const SHOWN_DEFAULTS = { ...DEFAULTS, requestsPerMinute: 300, fireOnceKey: '', fireOnceUnanswered: 'report' };

describe('the options table gives the description and the defaults', () => {
	const fields = optionsDescription.options as INodeProperties[];

	test('the collection lists every option once, alphabetical by display name', () => {
		const names = fields.map((field) => field.displayName as string);
		expect(names).toEqual([...names].sort());
		expect(fields.map((field) => field.name).sort()).toEqual(Object.keys(SHOWN_DEFAULTS).sort());
		expect(Object.fromEntries(fields.map((field) => [field.name, field.displayName]))).toMatchObject(LABELS);
	});

	test("each field shows its default, and only n8n's keys (nothing the node alone reads)", () => {
		expect(Object.fromEntries(fields.map((field) => [field.name, field.default]))).toEqual(SHOWN_DEFAULTS);
		const n8nKeys = ['displayName', 'name', 'type', 'options', 'typeOptions', 'default', 'displayOptions', 'placeholder', 'description'];
		for (const field of fields) expect(n8nKeys).toEqual(expect.arrayContaining(Object.keys(field)));
	});

	test('the Fire-only options show for Fire Trigger only; the pace options for every operation', () => {
		const fireOnly = fields.filter((field) => field.displayOptions).map((field) => field.name);
		expect(fireOnly.sort()).toEqual([...FIRE_ONLY].sort());
		for (const field of fields.filter((f) => f.displayOptions)) expect(field.displayOptions).toEqual({ show: { '/operation': ['fire'] } });
	});

	test('DEFAULT_OPTIONS: the defaults a run uses, without the options that do nothing until set', () => {
		expect(DEFAULT_OPTIONS).toEqual(DEFAULTS);
	});

	test('per-item options are not read per run, whatever they hold', () => {
		expect(readOptions(NODE, 0, { fireOnceKey: { id: 1 }, fireOnceUnanswered: 'yes' })).toEqual(DEFAULTS);
	});
});

// Oracle: test/fireOnce.test.ts and the README's Fire Once section: the key is the option's text or
// number (trimmed); empty, the record's key is used; anything else fails the item, naming it.
// Fire Once Keys Left Unanswered is exactly "report" or "fire", per item.
describe('readItemOption: a per-item option for one item', () => {
	const runGiving = (values: Record<string, unknown>) => {
		const asked: unknown[][] = [];
		const parameter = (name: string, itemIndex: number, fallback?: unknown) => {
			asked.push([name, itemIndex, fallback]);
			const key = name.replace(/^options\./, '');
			return key in values ? values[key] : fallback;
		};
		return { run: { node: NODE, parameter }, asked };
	};
	const KEY_WHY =
		'Fire Once Key must be text or a number that names the event, such as {{ $json.body.paymentId }}. Leave it empty to use entity type, entity ID and trigger code.';
	const UNANSWERED_WHY = 'Fire Once Keys Left Unanswered must be "report" (Report as May Have Fired) or "fire" (Fire, I Checked the Records).';

	test('read for its item, with the default the field shows when not set', () => {
		const { run, asked } = runGiving({});
		expect(readItemOption(run, 4, 'fireOnceKey')).toBe('');
		expect(readItemOption(run, 4, 'fireOnceUnanswered')).toBe('report');
		expect(asked).toEqual([
			['options.fireOnceKey', 4, ''],
			['options.fireOnceUnanswered', 4, 'report'],
		]);
	});

	test.each<[unknown, string]>([
		['payment-7', 'payment-7'],
		['  payment-7 ', 'payment-7'],
		[42, '42'],
		[0, '0'],
		['', ''],
		['   ', ''],
		[undefined, ''],
		[null, ''],
	])('Fire Once Key %p is %p (empty: the record\'s key)', (given, expected) => {
		expect(readItemOption(runGiving({ fireOnceKey: given }).run, 0, 'fireOnceKey')).toBe(expected);
	});

	test.each<[unknown, string]>([
		[{ id: 'p' }, '{"id":"p"}'],
		[true, 'true'],
		[Number.NaN, 'null'],
		[['a'], '["a"]'],
	])('Fire Once Key %p fails its item, naming the field, the value and the item', (given, shownAs) => {
		const error = thrownBy(() => readItemOption(runGiving({ fireOnceKey: given }).run, 2, 'fireOnceKey')) as NodeOperationError;
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toBe(`Invalid Fire Once Key "${shownAs}" in item 2`);
		expect(error.description).toBe(KEY_WHY);
		expect(error.context.itemIndex).toBe(2);
	});

	test.each(['report', 'fire'])('Fire Once Keys Left Unanswered %p is read as it is', (given) => {
		expect(readItemOption(runGiving({ fireOnceUnanswered: given }).run, 0, 'fireOnceUnanswered')).toBe(given);
	});

	test.each<[unknown, string]>([
		['yes', 'yes'],
		[' fire ', ' fire '],
		['', ''],
		[true, 'true'],
	])('Fire Once Keys Left Unanswered %p fails its item', (given, shownAs) => {
		const error = thrownBy(() => readItemOption(runGiving({ fireOnceUnanswered: given }).run, 1, 'fireOnceUnanswered')) as NodeOperationError;
		expect(error.message).toBe(`Invalid Fire Once Keys Left Unanswered "${shownAs}" in item 1`);
		expect(error.description).toBe(UNANSWERED_WHY);
		expect(error.context.itemIndex).toBe(1);
	});
});

// Type-level, checked by tsc (npm run build type-checks nodes/, tsconfig.test.json the tests):
// the types are derived from the table, so each option has its field's type, not its default's
// literal, and the options read per item or only when set are where they belong.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ExpectedOptions = {
	requestsPerMinute?: number;
	maxConcurrent: number;
	maxRateLimitRetries: number;
	maxRateLimitWaitSeconds: number;
	retryAmbiguousFires: boolean;
	checkTriggerCodes: boolean;
	checkRecords: boolean;
	fireOnce: boolean;
	fireOnceMaxKeys: number;
	reportStageChange: boolean;
	whenNotMoved: 'report' | 'fail';
	rehearse: boolean;
};
export const optionsTypeIsDerived: Same<Options, ExpectedOptions> = true;
export const itemOptionsTypeIsDerived: Same<ItemOptions, { fireOnceKey: string; fireOnceUnanswered: 'report' | 'fire' }> = true;
// @ts-expect-error a value outside the choices
export const notAChoice: Options['whenNotMoved'] = 'stop';
// @ts-expect-error per-item options are not in the per-run options
export const perItemNotPerRun: Options['fireOnceKey'] = '';
