import * as ts from 'typescript';

import { PACKAGE_ROOT } from '../harness/system';

// The options table is type-checked against its fields: a default (or a per-item rule's value)
// of another type than its field's fails tsc, and the `Options` type follows the table. Oracle:
// each variant below breaks one entry of a copy of the table the way a next engineer could, and
// tsc must refuse it where the table is written; the copy as it is compiles, and so do the
// type-level assertions of options.test.ts (the types derived, not written by hand).

const NODE_DIR = `${PACKAGE_ROOT}/nodes/Bitrix24Vibecode`;
const source = ts.sys.readFile(`${NODE_DIR}/options.ts`) ?? '';

/** The table's source with one entry's text changed: the entry is the one that names `name`. */
function changed(name: string, from: string, to: string): string {
	const at = source.indexOf(`name: '${name}',`);
	const start = source.lastIndexOf('\n\t{\n', at);
	const end = source.indexOf('\n\t},\n', at);
	const entry = source.slice(start, end);
	expect(entry).toContain(from);
	return source.slice(0, start) + entry.replace(from, to) + source.slice(end);
}

const VARIANTS: Record<string, string> = {
	asIs: source,
	numberAsText: changed('maxConcurrent', 'default: 5,', "default: '5',"),
	booleanAsText: changed('checkRecords', 'default: true,', "default: 'true',"),
	notAChoice: changed('whenNotMoved', "default: 'report',", "default: 'stop',"),
	ruleOfAnotherType: changed('fireOnceUnanswered', "given === 'fire' ? given : undefined", "given === 'fire' ? 1 : undefined"),
	perItemWithoutWhy: changed('fireOnceKey', '\t\twhy:', '\t\tnotWhy:'),
};

let diagnostics: Record<string, readonly ts.Diagnostic[]>;

beforeAll(() => {
	const config = ts.getParsedCommandLineOfConfigFile(`${PACKAGE_ROOT}/tsconfig.test.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
	if (!config) throw new Error('tsconfig.test.json unreadable');
	// The variants sit beside options.ts, so that its imports resolve as they do for it.
	const path = (variant: string) => `${NODE_DIR}/options.${variant}.ts`;
	const files = new Map(Object.entries(VARIANTS).map(([variant, text]) => [path(variant), text]));
	const host = ts.createCompilerHost(config.options);
	const { getSourceFile, fileExists, readFile } = host;
	host.fileExists = (file) => files.has(file) || fileExists(file);
	host.readFile = (file) => files.get(file) ?? readFile(file);
	host.getSourceFile = (file, language, ...rest) =>
		files.has(file) ? ts.createSourceFile(file, files.get(file) as string, language) : getSourceFile(file, language, ...rest);
	const testFile = `${PACKAGE_ROOT}/test/unit/options.test.ts`;
	const program = ts.createProgram([...files.keys(), testFile], { ...config.options, noEmit: true }, host);
	diagnostics = Object.fromEntries(Object.keys(VARIANTS).map((variant) => [variant, program.getSemanticDiagnostics(program.getSourceFile(path(variant)))]));
	diagnostics.optionsTest = program.getSemanticDiagnostics(program.getSourceFile(testFile));
}, 60_000);

const lineOf = (variant: string, text: string) => VARIANTS[variant].slice(0, VARIANTS[variant].indexOf(text)).split('\n').length;
const messages = (list: readonly ts.Diagnostic[]) => list.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));

test('the table as it is compiles, and so do the type-level assertions of options.test.ts', () => {
	expect(messages(diagnostics.asIs)).toEqual([]);
	expect(messages(diagnostics.optionsTest)).toEqual([]);
});

test.each<[string, string]>([
	['numberAsText', "default: '5',"],
	['booleanAsText', "default: 'true',"],
	['notAChoice', "default: 'stop',"],
	['ruleOfAnotherType', '? 1 : undefined'],
	['perItemWithoutWhy', 'notWhy:'],
])('%s fails tsc, in the table', (variant, text) => {
	expect(diagnostics[variant].length).toBeGreaterThan(0);
	const lines = diagnostics[variant].map((d) => d.file?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? -1);
	// Reported on the broken entry (its first line at the earliest), not somewhere else.
	const entryStart = VARIANTS[variant].lastIndexOf('\n\t{\n', VARIANTS[variant].indexOf(text));
	const entryFirstLine = VARIANTS[variant].slice(0, entryStart).split('\n').length;
	expect(lines.some((line) => line + 1 >= entryFirstLine && line + 1 <= lineOf(variant, text))).toBe(true);
});
