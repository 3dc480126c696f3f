/** @type {import('jest').Config} */
module.exports = {
	preset: 'ts-jest',
	testEnvironment: 'node',
	roots: ['<rootDir>/test', '<rootDir>/nodes', '<rootDir>/credentials'],
	testTimeout: 30_000,
	setupFiles: ['<rootDir>/test/quietLogs.js'],
	// Transpile only: tsconfig.test.json sets isolatedModules, so ts-jest compiles each file on its
	// own without a type check. The types are checked once, by `npm run typecheck` (the tests)
	// and `npm run build` (the node).
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
};
