/** @type {import('jest').Config} */
module.exports = {
	preset: 'ts-jest',
	testEnvironment: 'node',
	roots: ['<rootDir>/test', '<rootDir>/nodes', '<rootDir>/credentials'],
	testTimeout: 30_000,
	// Two files at once, on two cores too: a workflow suite spends much of its time waiting on
	// the sandbox's sockets and n8n's turns, and jest's default (cores - 1) would run them one by one.
	maxWorkers: 2,
	setupFiles: ['<rootDir>/test/quietLogs.js'],
	// Transpile only: tsconfig.test.json sets isolatedModules, so ts-jest compiles each file on its
	// own without a type check. The types are checked once, by `npm run typecheck` (the tests)
	// and `npm run build` (the node).
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
};
