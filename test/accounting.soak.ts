import { details } from './helpers';
import { useVirtualClock } from './harness/virtualClock';
import { fireAt, useSandbox } from './sandboxRun';

// Every item ends exactly once and no fire is doubled while the sandbox refuses (429) and faults
// at random: moved from pacing.test.ts, since the sandbox's rate window counts in real time
// (the node's own waits are virtual, as there), so the run takes real seconds. `npm run soak`.
useVirtualClock();
const box = useSandbox();

const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));

/** A key of its own: the pace of a key is shared by the whole process. */
function freshKey(sandbox: typeof box.sandbox) {
	sandbox.addKey('vibe_api_accounting_1', { id: 'accounting1' });
	return 'vibe_api_accounting_1';
}

describe('Accounting', () => {
	test('with the error output, every item ends exactly once and no fire is doubled', async () => {
		const apiKey = freshKey(box.sandbox);
		box.sandbox.setRateLimit({ limit: 10, windowMs: 500 });
		box.sandbox.setRandomFaults({ seed: 7, rate: 0.2, apply: 0.5, match: { path: '/v1/triggers/fire' } });
		const items = ids(60);
		const result = await fireAt(box.sandbox, items, {
			apiKey,
			options: { checkRecords: false, reportStageChange: false, requestsPerMinute: 1e6, maxConcurrent: 10, maxRateLimitRetries: 20 },
			onError: 'continueErrorOutput',
		});
		box.sandbox.setRandomFaults(null);

		const succeeded = result.main.map((item) => item.json.entityId as number);
		const failed = result.errors.map((item) => details(item).entityId as number);
		expect([...succeeded, ...failed].sort((a, b) => a - b)).toEqual(items.map(({ id }) => id));
		const fired = box.sandbox.fires.map((f) => Number(f.entityId));
		expect(new Set(fired).size).toBe(fired.length);
		for (const id of succeeded) expect(fired).toContain(id);
		expect(result.errors.length).toBeGreaterThan(0);
	}, 30_000);
});
