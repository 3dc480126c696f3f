// The same test suite against the last n8n 1.x line: n8n 1.123.x ships n8n-core 1.122.48 and
// n8n-workflow 1.120.31, installed side by side with the 2.x packages under the aliases
// n8n-core-v1 and n8n-workflow-v1. Every `require('n8n-core')` / `require('n8n-workflow')` in
// jest's module registry (the built node in dist/, the test harness, the tests, and n8n-core
// itself with its @n8n/* helpers) resolves to the 1.x copy, so there is one n8n-workflow
// instance and `instanceof NodeApiError` holds across them.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
	...base,
	displayName: 'n8n 1.x',
	moduleNameMapper: {
		...base.moduleNameMapper,
		'^n8n-core$': '<rootDir>/node_modules/n8n-core-v1/dist/index.js',
		'^n8n-core/(.*)$': '<rootDir>/node_modules/n8n-core-v1/$1',
		'^n8n-workflow$': '<rootDir>/node_modules/n8n-workflow-v1/dist/cjs/index.js',
		'^n8n-workflow/common$': '<rootDir>/node_modules/n8n-workflow-v1/dist/cjs/common/index.js',
		'^n8n-workflow/(.*)$': '<rootDir>/node_modules/n8n-workflow-v1/$1',
	},
};
