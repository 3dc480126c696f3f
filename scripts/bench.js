#!/usr/bin/env node
// Runs bench/bench.js without a build step: the test harness it requires is TypeScript,
// which is only transpiled, as ts-jest does.
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
	const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
		compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2021, esModuleInterop: true },
		fileName: filename,
	});
	module._compile(outputText, filename);
};

// n8n's engine logs every failed item; the table is what this run is for.
process.env.N8N_LOG_LEVEL ??= 'silent';

const bench = require('../bench/bench.js');
const argv = process.argv.slice(2);
(argv[0] === '--worker' ? bench.worker(argv[1]) : bench.main(argv))
	.catch((error) => {
		console.error(error);
		process.exit(1);
	});
