// The suites that need real time (a load run under a compressed rate window): `npm run soak`,
// on n8n 2.x and on the last n8n 1.x, as `.ci/run` runs it. `npm test` leaves them out: they
// take minutes, and nothing in them could run on the virtual clock without ceasing to be a
// load test. Their files end in `.soak.ts`.
const soak = { testMatch: ['<rootDir>/test/**/*.soak.ts'] };

/** @type {import('jest').Config} */
module.exports = {
	// A project's maxWorkers is not read: the run's is. Two at once, as npm test runs (jest.config.js).
	maxWorkers: 2,
	projects: [
		{ ...require('./jest.config'), ...soak, displayName: 'soak, n8n 2.x' },
		{ ...require('./jest.n8n1.config'), ...soak, displayName: 'soak, n8n 1.x' },
	],
};
