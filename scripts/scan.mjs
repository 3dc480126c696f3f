#!/usr/bin/env node
// `npm run scan`: the checks n8n's community-package scanner (@n8n/scan-community-package)
// makes on a published package, run locally before publishing:
//   1. the source tree: nodes/, credentials/ and package.json, as it lints the source
//      checkout named by the package's npm provenance;
//   2. the package as published: `npm pack` into a temp folder, unpacked, its compiled
//      .js and package.json.
// Both passes use the scanner's own `analyzePackage` (its ESLint config and rule versions).
// Its third check, npm provenance, needs a version published from CI and is skipped here.
// Needs a build first (npm run build). Exits 1 on any violation, with the findings printed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { analyzePackage, SOURCE_FILE_PATTERNS } from '@n8n/scan-community-package/scanner/scanner.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const label = `${pkg.name}@${pkg.version}`;

for (const entry of [...pkg.n8n.nodes, ...pkg.n8n.credentials]) {
	if (!fs.existsSync(path.join(root, entry))) {
		console.error(`❌ ${entry} is missing: run \`npm run build\` before \`npm run scan\``);
		process.exit(1);
	}
}

function packInto(dir) {
	// --ignore-scripts: the scan must not run lifecycle scripts (the package has none anyway).
	const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
		cwd: root,
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const [{ filename, files, size }] = JSON.parse(out);
	const unpacked = path.join(dir, 'package');
	fs.mkdirSync(unpacked);
	execFileSync('tar', ['-xzf', path.join(dir, filename), '-C', unpacked, '--strip-components=1']);
	return { unpacked, files: files.length, size };
}

const failures = [];
function report(name, result) {
	if (result.passed) {
		console.log(`✅ ${name}: no violations${result.message ? ` (${result.message})` : ''}`);
		return;
	}
	console.log(`❌ ${name}: ${result.message}`);
	if (result.details) console.log(result.details);
	failures.push(name);
}

console.log(`Scanning ${label} as n8n's community-package scanner does`);

report('source (nodes/, credentials/, package.json)', await analyzePackage(root, SOURCE_FILE_PATTERNS));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-scan-'));
try {
	const { unpacked, files, size } = packInto(tmp);
	report(
		`npm pack tarball (${files} files, ${(size / 1024).toFixed(1)} kB; compiled .js and package.json)`,
		await analyzePackage(unpacked, ['**/*.js', 'package.json']),
	);
} finally {
	fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(
	'ℹ️  provenance: skipped. n8n also requires the published version to carry an npm provenance ' +
		'attestation (npm publish --provenance from CI, see .github/workflows/publish.yml); it can ' +
		'only be checked after publishing: npx @n8n/scan-community-package ' +
		label,
);

if (failures.length > 0) {
	console.log(`❌ ${label} fails n8n's scan: ${failures.join('; ')}`);
	process.exit(1);
}
console.log(`✅ ${label} passes n8n's source and tarball scans`);
