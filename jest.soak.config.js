// The suites that wait in real time: `npm run soak`, on n8n 2.x and on the last n8n 1.x, as
// `.ci/run` runs it; `npm test` leaves them out. A load run under a compressed rate window
// (hostile/load, hostile/concurrency) and a run against the sandbox's real-time window
// (accounting) would cease to be what they test on the virtual clock; Fire Once's races between
// processes and a process killed mid-run (fireOnceProcesses, fireOnceCrash) are races of n8n's
// store calls and the node's real waits, which a virtual clock lines up. Files end in `.soak.ts`.
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
