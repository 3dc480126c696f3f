import type { IDataObject, INode, INodeProperties } from 'n8n-workflow';

import { invalidValue } from './errors';

// The node's options, one entry each: n8n's field (its default, its range or choices, and in
// displayOptions the operations that show and so use it), when the node reads it and, read per
// item, its own rule. The description and the `Options` type come from here: what the editor
// shows is what the node uses. The entries are node parameters to n8n's lint: literal defaults,
// in alphabetical order of displayName.

type Choice = { name: string; value: string; description: string };
type Field = { displayName: string; name: string; description: string; displayOptions?: { show: { '/operation': string[] } }; placeholder?: string } & (
	| { type: 'boolean'; default: boolean }
	| { type: 'number'; typeOptions: { minValue: number; maxValue: number; numberPrecision?: 0 }; default: number }
	| { type: 'options'; options: Choice[]; default: string }
	| { type: 'string'; default: string }
);
type Spec = Field & {
	/** Unset: once per run, its default when not added. 'whenSet': once per run, nothing until added. 'item': item by item (`readItemOption`). */
	read?: 'whenSet' | 'item';
	/** A per-item option's own rule: its value, or undefined for a value it refuses, saying `why`. */
	rule?(given: unknown): unknown;
	why?: string;
};

/** An option's value as the node uses it: of its field's type, one of its choices. */
type Value<S> = S extends { type: 'boolean' } ? boolean : S extends { type: 'number' } ? number : S extends { options: Array<{ value: infer V }> } ? V : string;
type ItemRule<S> = S extends { read: 'item' } ? { rule(given: unknown): Value<S> | undefined; why: string } : unknown;

/** The table, type-checked: each default, and each per-item rule's value, of its field's type (not one of the choices: "not assignable to never"). */
const table = <const T extends Spec[]>(specs: T & { [K in keyof T]: { default: Value<T[K]> } & ItemRule<T[K]> }): T => specs;

const OPTIONS = table([
	{
		displayName: 'Check Records Exist',
		name: 'checkRecords',
		type: 'boolean',
		default: true,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: "Whether to confirm that every item's record exists in Bitrix24 before any fire of the run is sent (one search request per up to 50 records of one type) and fail an item whose record does not, sending nothing for it: Bitrix24 accepts a fire for a record that does not exist and runs nothing. If the search cannot be read, the items are fired unchecked.",
	},
	{
		displayName: 'Check Trigger Codes',
		name: 'checkTriggerCodes',
		type: 'boolean',
		default: true,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: "Whether to check each item's trigger code against the triggers the OAuth application registered and fail an unknown code before it is sent, naming the closest registered codes (Bitrix24 refuses such a code item by item). The list is remembered for a minute per credential and read again when a code is not on it. Only with an application key and a session token; if the list cannot be read, the items are fired unchecked.",
	},
	{
		displayName: 'Fire Once Across Executions',
		name: 'fireOnce',
		type: 'boolean',
		default: false,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: "Whether to remember in n8n's database the key of every item this node fired, or may have fired, and skip an item whose key an earlier execution fired: a webhook delivered twice, n8n's Retry of a failed or crashed execution, another queue-mode worker. A skipped item goes to the main output with skipped: true and the reason. Each key is recorded just before its fire: if n8n stops in the middle of a run, a later execution reports the few keys that were being fired then as \"may have fired\" and fires the rest. Without this option, a Retry after a crash fires again everything sent before it. Fires that did not reach Bitrix24 are not remembered. Not available when AI Agent 2.2 or older calls the node as a tool.",
	},
	{
		displayName: 'Fire Once Key',
		name: 'fireOnceKey',
		type: 'string',
		default: '',
		displayOptions: { show: { '/operation': ['fire'] } },
		placeholder: 'e.g. {{ $json.body.paymentId }}',
		description: 'With "Fire Once Across Executions": what makes two items the same event, per item, such as a payment ID. Empty: entity type, entity ID and trigger code, so this node fires a record\'s trigger once.',
		read: 'item',
		// Text (trimmed) or a number; nothing or blank gives '', and check.ts uses the record's key.
		rule: (given) =>
			typeof given === 'string' ? given.trim() : typeof given === 'number' && Number.isFinite(given) ? String(given) : given === undefined || given === null ? '' : undefined,
		why: 'Fire Once Key must be text or a number that names the event, such as {{ $json.body.paymentId }}. Leave it empty to use entity type, entity ID and trigger code.',
	},
	{
		displayName: 'Fire Once Keys Left Unanswered',
		name: 'fireOnceUnanswered',
		type: 'options',
		options: [
			{ name: 'Report as May Have Fired', value: 'report', description: 'Do not send the item; it goes to the error output with code FIRE_ONCE_UNANSWERED' },
			{ name: 'Fire (I Checked the Records)', value: 'fire', description: 'Fire the item: only after checking in Bitrix24 that its automation did not run' },
		],
		default: 'report',
		displayOptions: { show: { '/operation': ['fire'] } },
		description: 'With "Fire Once Across Executions": what to do with an item whose key another execution claimed and never recorded Bitrix24\'s answer for — n8n stopped in the middle of that execution, or it is still running. Its fire may have happened. Per item, so an expression can pick the records you checked.',
		read: 'item',
		// As chosen, untrimmed: a person decides item by item, after checking the records.
		rule: (given) => (given === 'report' || given === 'fire' ? given : undefined),
		why: 'Fire Once Keys Left Unanswered must be "report" (Report as May Have Fired) or "fire" (Fire, I Checked the Records).',
	},
	{
		displayName: 'Fire Once Keys Remembered',
		name: 'fireOnceMaxKeys',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100000, numberPrecision: 0 },
		default: 10000,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: 'With "Fire Once Across Executions": how many keys this node remembers at least; the oldest are forgotten first, and an item whose key was forgotten fires again',
	},
	{
		displayName: 'Max Concurrent Requests',
		name: 'maxConcurrent',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100, numberPrecision: 0 },
		default: 5,
		description: 'How many requests with this API key may wait for an answer at the same time',
	},
	{
		displayName: 'Max Retries on Rate Limit',
		name: 'maxRateLimitRetries',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 20, numberPrecision: 0 },
		default: 5,
		description: 'How many times an item refused with "too many requests" (429) is sent again, after the wait Vibecode asks for. Safe: a refused request never reached Bitrix24.',
	},
	{
		displayName: 'Max Wait on Rate Limit (Seconds)',
		name: 'maxRateLimitWaitSeconds',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 600 },
		default: 60,
		description: 'The longest wait after a "too many requests" (429) answer that the node holds the key for. The default covers any wait the key\'s one-minute window asks for; when Vibecode asks for a longer one (a key blocked for an hour), the item fails at once (it was not fired) instead of holding the key.',
	},
	{
		displayName: 'Rehearse (Fire Nothing)',
		name: 'rehearse',
		type: 'boolean',
		default: false,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: "Whether to run every check of a real run (inputs, trigger codes, records, Fire Once Across Executions) and fire nothing and record nothing. Each item that a real run would fire says wouldFire: true with its record's stage now; one that would fail fails the same way; one that Fire Once would skip says so. Turn it on while building a workflow and pressing Execute Step again and again.",
	},
	{
		displayName: 'Report Stage Change',
		name: 'reportStageChange',
		type: 'boolean',
		default: true,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: "Whether to read each fired deal's, lead's, quote's or invoice's stage before and after the fire (one search per up to 50 records of a type each time) and add stageBefore, stageAfter and moved to its item: Bitrix24 answers success also when its automation moved nothing. Contacts and companies have no stage.",
	},
	{
		displayName: 'Requests per Minute',
		name: 'requestsPerMinute',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 1000000 },
		default: 300,
		description: "A cap on the pace. Without it the node paces each key at the limit Vibecode reports on every answer (300 per minute unless the key's limit was changed in the Vibecode dashboard), leaves their share to other n8n processes and apps using the key, and slows down while the Bitrix24 portal is overloaded. With it, this node's requests never go faster than this rate.",
		read: 'whenSet',
	},
	{
		displayName: 'Retry Failed Fires (May Fire Twice)',
		name: 'retryAmbiguousFires',
		type: 'boolean',
		default: false,
		displayOptions: { show: { '/operation': ['fire'] } },
		description: 'Whether to send a fire once more when it failed after it was sent (gateway error 502 or 504, broken connection, timeout). Bitrix24 may already have run the automation, so turning this on can run it twice.',
	},
	{
		displayName: 'When the Record Did Not Move',
		name: 'whenNotMoved',
		type: 'options',
		options: [
			{ name: 'Report It', value: 'report', description: 'The item is a success (it was fired) and says that the record did not move, and why that may be' },
			{ name: 'Fail the Item', value: 'fail', description: 'The item goes to the error output, or stops the run, per On Error; it was fired and is never sent again' },
		],
		default: 'report',
		displayOptions: { show: { '/operation': ['fire'] } },
		description: 'With "Report Stage Change": what to do with a fired record whose stage is the same after the fire as before',
	},
]);

type Entry = (typeof OPTIONS)[number];
type Named<E> = { [S in E as S extends { name: infer N extends string } ? N : never]: Value<S> };
/** The options read once per run, as the node uses them: Requests per Minute is undefined until set. */
export type Options = Named<Exclude<Entry, { read: string }>> & Partial<Named<Extract<Entry, { read: 'whenSet' }>>>;
/** The options read item by item (`readItemOption`). */
export type ItemOptions = Named<Extract<Entry, { read: 'item' }>>;

/** n8n's field: the entry without what only the node reads. */
function fieldOf(spec: Spec): INodeProperties {
	const field = { ...spec };
	for (const key of ['read', 'rule', 'why'] as const) delete field[key];
	return field;
}

export const optionsDescription: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add option',
	default: {},
	options: OPTIONS.map(fieldOf),
};

const perRun: Spec[] = OPTIONS.filter((spec: Spec) => spec.read !== 'item');

/** The table's defaults: `Options` is derived from the same entries. */
export const DEFAULT_OPTIONS = Object.fromEntries(perRun.filter((spec) => !spec.read).map((spec) => [spec.name, spec.default])) as Options;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function toNumber(value: unknown): number | undefined {
	if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
	if (typeof value !== 'string' || !DECIMAL.test(value.trim())) return undefined;
	return Number(value.trim());
}

/** The rule of an option without its own: its field's type, range or choices. */
function fieldRule(field: Field, value: unknown): { value?: number | boolean | string; rule: string } {
	if (field.type === 'boolean') {
		const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
		return { value: text === true || text === 'true' ? true : text === false || text === 'false' ? false : undefined, rule: 'true or false' };
	}
	if (field.type === 'string') return { value: typeof value === 'string' ? value : undefined, rule: 'text' };
	if (field.type === 'options') {
		const text = typeof value === 'string' ? value.trim() : value;
		const rule = `one of ${field.options.map((choice) => `"${choice.value}" (${choice.name})`).join(', ')}`;
		return { value: field.options.find((choice) => choice.value === text)?.value, rule };
	}
	const { minValue, maxValue, numberPrecision } = field.typeOptions;
	const whole = numberPrecision === 0;
	const number = toNumber(value);
	const fits = number !== undefined && number >= minValue && number <= maxValue && (!whole || Number.isInteger(number));
	return { value: fits ? number : undefined, rule: `a ${whole ? 'whole number' : 'number'} from ${minValue} to ${maxValue}` };
}

/** An option's value by its rule, or the error that names the option, the value and the item. */
function checked(node: INode, itemIndex: number, spec: Spec, given: unknown) {
	const { value, rule } = spec.rule ? { value: spec.rule(given), rule: '' } : fieldRule(spec, given);
	if (value !== undefined) return value;
	const fix =
		given === undefined || given === null || given === ''
			? 'Its expression gave nothing: check the field it reads, or remove the option to use the default.'
			: 'If it is set by an expression, make the expression give such a value.';
	const why = spec.why ?? `The option "${spec.displayName}" must be ${rule}. ${fix}`;
	throw invalidValue(node, itemIndex, { field: spec.displayName, value: given, why });
}

/**
 * The node options, checked and converted once per run. Expressions arrive unconverted
 * ("false" as text, nothing as undefined), so every value is checked here before anything is sent.
 */
export function readOptions(node: INode, itemIndex: number, raw: unknown): Options {
	const given = (raw && typeof raw === 'object' ? raw : {}) as IDataObject;
	const options = { ...DEFAULT_OPTIONS };
	for (const spec of perRun) if (spec.name in given) Object.assign(options, { [spec.name]: checked(node, itemIndex, spec, given[spec.name]) });
	return options;
}

const byName: Record<string, Spec> = Object.fromEntries(OPTIONS.map((spec) => [spec.name, spec]));

/** A per-item option for one item, read from the run's parameters and checked by its entry's rule. */
export function readItemOption<N extends keyof ItemOptions>(
	run: { node: INode; parameter(name: string, itemIndex: number, fallback?: unknown): unknown },
	itemIndex: number,
	name: N,
): ItemOptions[N] {
	const spec = byName[name];
	// The value of the rule `table` checked against the field's type.
	return checked(run.node, itemIndex, spec, run.parameter(`options.${name}`, itemIndex, spec.default)) as ItemOptions[N];
}
