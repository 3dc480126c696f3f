import fc from 'fast-check';
import type { IDataObject } from 'n8n-workflow';

import { numberFromEnv } from '../harness/system';

// Hostile values for Fire Trigger's fields, and what the README says the node must do with each.

export const TYPES = ['deal', 'lead', 'contact', 'company', 'quote', 'invoice'];
export const MAX_ID = Number.MAX_SAFE_INTEGER;

// Written from the README's words, not from the node's code: surrounding spaces are ignored, an
// Entity ID is a positive whole number in ASCII digits, a trigger code is 1 to 255 of the
// characters below. KNOWN_CASES (checked against this oracle and the node) pins it down.
const ASCII_DIGITS = '0123456789';
const CODE_CHARACTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';
const onlyOf = (text: string, allowed: string) => text.length > 0 && [...text].every((ch) => allowed.includes(ch));

/** README, "Operations": what the node must send for a value, or undefined when it must refuse it. */
export const documented = {
	entityType(value: unknown): string | undefined {
		const type = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
		return type !== undefined && TYPES.includes(type) ? type : undefined;
	},
	entityId(value: unknown): number | undefined {
		const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
		if (!onlyOf(text, ASCII_DIGITS)) return undefined;
		const id = Number(text);
		return Number.isSafeInteger(id) && id > 0 ? id : undefined;
	},
	trigger(value: unknown): string | undefined {
		// A code of digits may arrive as a number, from a spreadsheet column for example.
		const digits = Number.isSafeInteger(value) && (value as number) >= 0 ? String(value) : '';
		const code = typeof value === 'string' ? value.trim() : digits;
		return onlyOf(code, CODE_CHARACTERS) && code.length <= 255 ? code : undefined;
	},
};

/** Values and what the README says becomes of them (undefined: refused). */
export const KNOWN_CASES: { [K in keyof typeof documented]: Array<[unknown, string | number | undefined]> } = {
	entityType: [
		['deal', 'deal'],
		['DEAL', 'deal'],
		[' Lead\n', 'lead'],
		['invoice', 'invoice'],
		['deals', undefined],
		['ＤＥＡＬ', undefined],
		['dеal', undefined], // Cyrillic е
		['', undefined],
		[null, undefined],
		[7, undefined],
	],
	entityId: [
		[5141, 5141],
		['5141', 5141],
		[' 42 ', 42],
		['0042', 42],
		[9_007_199_254_740_991, 9_007_199_254_740_991],
		['9007199254740992', undefined],
		[0, undefined],
		[-5, undefined],
		['-5', undefined],
		['+5', undefined],
		[5.5, undefined],
		['5.0', undefined],
		['1e3', undefined],
		['0x10', undefined],
		['５', undefined], // fullwidth 5
		['٥', undefined], // Arabic-Indic 5
		['', undefined],
		[true, undefined],
		[null, undefined],
	],
	trigger: [
		['payment_received', 'payment_received'],
		['a.b-c_1', 'a.b-c_1'],
		['  spaced\t', 'spaced'],
		[123, '123'],
		[0, '0'],
		[-1, undefined],
		[1.5, undefined],
		['a'.repeat(255), 'a'.repeat(255)],
		['a'.repeat(256), undefined],
		['paymеnt', undefined], // Cyrillic е
		['two words', undefined],
		['pay/ment', undefined],
		['', undefined],
		[null, undefined],
	],
};

export interface Case {
	json: IDataObject;
	/** The documented body, or the fields the error may name. */
	expect: { body: IDataObject } | { fields: string[] };
}

// Items travel as JSON, as from any node before this one: undefined drops out, NaN becomes null.
export const asItem = (json: IDataObject): IDataObject => JSON.parse(JSON.stringify(json)) as IDataObject;

const whitespace = fc.constantFrom(' ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\ufeff');
export const padded = (text: fc.Arbitrary<string>) =>
	fc.tuple(fc.option(whitespace, { nil: '' }), text, fc.option(whitespace, { nil: '' })).map((parts) => parts.join(''));
// Zeros of digit blocks that are not ASCII: fullwidth, Arabic-Indic, Devanagari, Bengali, Thai, mathematical bold.
const unicodeDigits = fc
	.tuple(fc.integer({ min: 1, max: 999_999 }), fc.constantFrom('０', '٠', '۰', '०', '০', '๐', '𝟎'))
	.map(([n, zero]) => [...String(n)].map((d) => String.fromCodePoint(zero.codePointAt(0)! + Number(d))).join(''));
export const junk = fc.oneof(
	fc.string({ unit: 'grapheme', maxLength: 20 }),
	fc.integer(),
	fc.double(),
	fc.boolean(),
	fc.constant(null),
	fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
	fc.object({ maxDepth: 1, maxKeys: 3 }),
);
const INJECTIONS = [
	'x"; DROP TABLE triggers;--',
	"' OR '1'='1",
	'<script>alert(1)</script>',
	'{{ $env.HOME }}',
	'${process.exit(1)}',
	'../../etc/passwd',
	'payment_received\r\nX-Injected: 1',
	'payment_received\u0000',
	'payment_received?entityId=1',
	'payment_received&triggerId=other',
	'paymеnt_received', // Cyrillic е
];

export const entityTypes = fc.oneof(
	{ weight: 3, arbitrary: fc.mixedCase(fc.constantFrom(...TYPES)) },
	{ weight: 2, arbitrary: padded(fc.constantFrom(...TYPES)) },
	fc.constantFrom('deals', 'crm_deal', 'smart_invoice', 'dеal', 'ＤＥＡＬ', 'DEAL\u0000', '', ' '),
	junk,
	fc.array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 2 }),
);

export const entityIds = fc.oneof(
	{ weight: 3, arbitrary: fc.integer({ min: 1, max: MAX_ID }) },
	{ weight: 3, arbitrary: padded(fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String)) },
	fc.integer({ min: -1e9, max: 0 }),
	fc.double(),
	fc.constantFrom(2 ** 53, 2 ** 53 + 2, 1e21, Number.MAX_VALUE, Number.MIN_VALUE, 0.1 + 0.2, -0),
	fc.integer({ min: 1, max: 99_999 }).map((n) => `000${n}`),
	fc.constantFrom('+5', '-5', '5.0', '5e3', '0x10', '1_000', '1,000', '1 000', '', ' ', 'NaN', 'Infinity', '5141abc'),
	fc.constant('9007199254740992'),
	unicodeDigits,
	junk,
);

export const triggers = fc.oneof(
	{ weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/) },
	{ weight: 2, arbitrary: padded(fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/)) },
	fc.constantFrom('', ' ', '\t\n', 'a'.repeat(255), 'a'.repeat(256), 'a'.repeat(10_000), ...INJECTIONS),
	fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
	fc.integer({ min: 0, max: 1_000_000 }),
	junk,
);

export function byIdCase(t: unknown, v: unknown, c: unknown): Case {
	const json = asItem({ t, v, c } as IDataObject);
	const entityType = documented.entityType(json.t);
	const entityId = documented.entityId(json.v);
	const triggerId = documented.trigger(json.c);
	if (entityType && entityId && triggerId) return { json, expect: { body: { entityType, entityId, triggerId } } };
	const fields = [!entityType && 'Entity Type', !entityId && 'Entity ID', !triggerId && 'Trigger'];
	return { json, expect: { fields: fields.filter((f): f is string => Boolean(f)) } };
}

export const sorted = (bodies: IDataObject[]) => bodies.map((body) => JSON.stringify(body)).sort();
export const short = (value: unknown) => {
	const text = JSON.stringify(value) ?? String(value);
	return text.length > 200 ? `${text.slice(0, 200)}…` : text;
};

// The same cases on every run; FC_SEED=… tries others.
export const SEED = numberFromEnv('FC_SEED', 20_251_122);

/** Why an item's outcome is not what `c` documents; undefined when it is. */
export function mismatch(
	c: Case,
	index: number,
	outcome: { ok?: IDataObject[]; errorMessage?: unknown; errorCode?: unknown },
): IDataObject | undefined {
	if ('body' in c.expect) {
		const want = [{ success: true, ...c.expect.body }];
		if (JSON.stringify(outcome.ok) === JSON.stringify(want)) return undefined;
		return { item: short(c.json), want: short(want), got: short(outcome.ok ?? outcome.errorMessage) };
	}
	const named = new RegExp(`^Invalid (${c.expect.fields.join('|')}) ".*" in item ${index}(\\n|$)`, 's');
	const code = outcome.errorCode as string | undefined;
	const refused = named.test(String(outcome.errorMessage)) && (code === undefined || code === 'INVALID_PARAMETER');
	if (!outcome.ok && refused) return undefined;
	const want = `an error naming ${c.expect.fields.join(' or ')}`;
	return { item: short(c.json), want, got: short(outcome.ok ?? outcome.errorMessage) };
}
