// First: n8n's logger must be created with the console captured (./hostile/captureLogs.js).
import { logged } from './hostile/captureLogs';

import type { IDataObject, IExecuteFunctions, INode, INodeType, NodeExecutionHint } from 'n8n-workflow';

import { apiError, fireParameters } from './helpers';
import { NODE_TYPE } from './harness/loadPackage';
import { runGraph, VIBECODE_NODE, type OnError, type RunResult } from './harness/runWorkflow';
import { useEventClock } from './harness/virtualClock';
import { freshKey, ids } from './hostile/support';
import { fireAt, useSandbox } from './sandboxRun';

// What needs a person is shown where people look (issue 33): n8n's log while a run goes and when
// it ends, the output pane's hints, and the execution's custom data, which the executions list
// filters on. On the event clock, against Vibecode's default key (300 a minute, a 60 s window).
const clock = useEventClock({ start: Date.UTC(2026, 11, 6, 13, 0, 0) });
const box = useSandbox({ rateLimit: { limit: 300, windowMs: 60_000 } });
afterEach(() => box.sandbox.restoreRecords());
beforeEach(() => {
	logged.length = 0;
});

/** The node's lines in n8n's log (JSON format, see captureLogs), with their level and time. */
function nodeLines() {
	return logged
		.flatMap((chunk) => chunk.split('\n'))
		.filter((line) => line.startsWith('{') && line.includes('Bitrix24 Vibecode node'))
		.map((line) => JSON.parse(line) as { level: string; message: string; metadata: { timestamp: string } });
}
const hintsOf = (result: RunResult): NodeExecutionHint[] => result.run.data.resultData.runData[VIBECODE_NODE][0].hints ?? [];
const customDataOf = (result: RunResult) => result.run.data.resultData.metadata ?? {};
const LABEL = 'Bitrix24 Vibecode node "Bitrix24 Vibecode" in workflow "test-workflow" (execution test-execution)';

/** Deal 2's fire gets an unclear 502 (may have fired), deal 3's a refusal (not fired), deal 4 is already won (does not move). */
function troubles() {
	box.sandbox.injectFault({ kind: 'json502', match: { path: '/v1/triggers/fire', entityId: '2' } });
	box.sandbox.injectFault({ kind: 'error', status: 403, body: apiError('BITRIX_ACCESS_DENIED', 'Access denied'), match: { path: '/v1/triggers/fire', entityId: '3' } });
	box.sandbox.setStage('deal', 4, 'WON');
}

const run = (items: IDataObject[], options: IDataObject = {}, onError: OnError = 'continueErrorOutput') =>
	clock.runUntil(fireAt(box.sandbox, items, { apiKey: freshKey(box.sandbox), options, onError }));

describe('a long run in n8n\'s log', () => {
	test('600 deals at 300 a minute: a line every half minute, counts growing, the time left falling; then one info line of totals', async () => {
		const apiKey = freshKey(box.sandbox);
		const started = clock.at;
		const result = await clock.runUntil(fireAt(box.sandbox, ids(600, 30_001), { apiKey, options: {}, onError: 'continueErrorOutput' }));
		const tookMs = clock.at - started;

		expect(result.main).toHaveLength(600);
		const lines = nodeLines();
		const progress = lines.filter((line) => line.message.includes(' left at '));
		// About two minutes: a line after 30 s, 60 s, 90 s and 120 s of it, none closer than 30 s.
		expect(tookMs).toBeGreaterThan(120_000);
		expect(progress).toHaveLength(Math.floor(tookMs / 30_000));
		const times = progress.map((line) => Date.parse(line.metadata.timestamp));
		expect(times[0] - started).toBeGreaterThanOrEqual(30_000);
		for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(30_000);
		const parsed = progress.map(({ level, message }) => {
			const [, done, fired, left, pace, eta, unit] = /: (\d+) of 600 items done \(fired (\d+), may have fired 0, failed 0, skipped 0\); (\d+) items left at (\d+) fires a minute, about (\d+) (second|minute)s? to go$/.exec(message) ?? [];
			expect(level).toBe('info');
			expect(message.startsWith(LABEL)).toBe(true);
			return { done: Number(done), fired: Number(fired), left: Number(left), pace: Number(pace), etaSeconds: Number(eta) * (unit === 'minute' ? 60 : 1) };
		});
		for (const [i, line] of parsed.entries()) {
			expect(line.done).toBe(line.fired);
			expect(line.done + line.left).toBe(600);
			// The key's 300 a minute, 2 % under it; the first minute's also holds the record check's searches.
			expect(line.pace).toBeGreaterThanOrEqual(260);
			expect(line.pace).toBeLessThanOrEqual(300);
			if (i > 0) {
				expect(line.done).toBeGreaterThan(parsed[i - 1].done);
				expect(line.etaSeconds).toBeLessThan(parsed[i - 1].etaSeconds);
			}
		}
		expect(lines.filter((line) => line.level !== 'info')).toEqual([]);
		expect(lines[lines.length - 1].message).toBe(`${LABEL}: 600 items done in 2 minutes: fired 600, may have fired 0, failed 0, skipped 0`);
		expect(JSON.stringify(lines)).not.toContain(apiKey);
	}, 60_000);

	test('a line says what holds the pace below the key\'s limit: here the "Requests per Minute" cap', async () => {
		await run(ids(100, 32_001), { requestsPerMinute: 120, checkRecords: false, reportStageChange: false });

		const progress = nodeLines().filter((line) => line.message.includes(' left at '));
		expect(progress.length).toBeGreaterThan(0);
		for (const { message } of progress) expect(message).toMatch(/ fires a minute, about \d+ seconds to go; the pace is held down by the "Requests per Minute" cap$/);
	});

	test('a short clean run writes its totals at debug only, and shows no hint', async () => {
		const result = await run(ids(3, 31_001));

		expect(nodeLines().map(({ level, message }) => [level, message])).toEqual([['debug', `${LABEL}: 3 items done in 1 second: fired 3, may have fired 0, failed 0, skipped 0`]]);
		expect(hintsOf(result)).toEqual([]);
		expect(customDataOf(result)).toEqual({ vibecode_may_have_fired: '0', vibecode_failed: '0', vibecode_not_moved: '0', vibecode_skipped: '0', vibecode_fired: '3' });
	});
});

describe('a finished run shows what needs a person', () => {
	test('a hint per kind, pointing to the error output; a warning in the log; the counts and "needs check" in the custom data', async () => {
		troubles();
		const result = await run(ids(6));

		expect(result.main.map((item) => item.json.entityId)).toEqual([1, 4, 5, 6]);
		expect(hintsOf(result)).toEqual([
			{ type: 'warning', location: 'outputPane', message: 'Deal 2 may already have fired: check it in Bitrix24 before running it again. It is on the error output.' },
			{ type: 'warning', location: 'outputPane', message: "Deal 3 failed and was not fired: see its error. It is on the error output." },
			{ type: 'info', location: 'outputPane', message: "Deal 4 was fired and did not move: see its note." },
		]);
		expect(customDataOf(result)).toEqual({
			vibecode_needs_check: 'yes',
			vibecode_may_have_fired: '1',
			vibecode_failed: '1',
			vibecode_not_moved: '1',
			vibecode_skipped: '0',
			vibecode_fired: '4',
		});
		expect(nodeLines().map(({ level, message }) => [level, message])).toEqual([
			['warn', `${LABEL}: items need a check by hand: 1 item may have fired (Deal 2); 1 item failed, not fired (Deal 3). The node's output lists them, each with what to do`],
		]);
	});

	test('many of a kind: the first three named, the rest counted; on the main output, the hint says so', async () => {
		for (const id of [11, 12, 13, 14, 15]) box.sandbox.injectFault({ kind: 'json502', match: { path: '/v1/triggers/fire', entityId: String(id) } });
		const result = await run(ids(6, 10), {}, 'continueRegularOutput');

		expect(hintsOf(result).map((hint) => hint.message)).toEqual([
			'Deal 11, 12, 13 and 2 more may already have fired: check them in Bitrix24 before running them again. They are in the output, each with an "error" field.',
		]);
	});

	test('"When the Record Did Not Move: Fail the Item": the records that did not move are a warning', async () => {
		box.sandbox.setStage('deal', 4, 'WON');
		box.sandbox.setStage('deal', 5, 'WON');
		const result = await run(ids(2, 4), { whenNotMoved: 'fail' });

		expect(hintsOf(result)).toEqual([
			{ type: 'warning', location: 'outputPane', message: 'Deal 4 and 5 were fired and did not move: "When the Record Did Not Move" fails them. They are on the error output.' },
		]);
		expect(customDataOf(result)).toMatchObject({ vibecode_not_moved: '2', vibecode_fired: '2' });
		expect(customDataOf(result)).not.toHaveProperty('vibecode_needs_check');
	});

	test('a rehearsal says in one hint what a real run would do, and leaves the custom data alone', async () => {
		box.sandbox.removeRecord('deal', 2);
		const result = await run(ids(3), { rehearse: true });

		expect(hintsOf(result)).toEqual([{ type: 'info', location: 'outputPane', message: 'Rehearsal, nothing was fired: a real run would fire 2, fail 1 and skip 0.' }]);
		expect(customDataOf(result)).toEqual({});
		expect(nodeLines().map(({ level, message }) => [level, message])).toContainEqual([
			'debug',
			`${LABEL}: the run's counts are not in the execution's custom data: a rehearsal fires nothing`,
		]);
	});

	test('"On Error: Stop" (n8n\'s default): a run that finishes keeps its hints', async () => {
		box.sandbox.setStage('deal', 4, 'WON');
		const result = await run(ids(2, 3), {}, 'stopWorkflow');

		expect(result.main).toHaveLength(2);
		expect(hintsOf(result)).toEqual([{ type: 'info', location: 'outputPane', message: 'Deal 4 was fired and did not move: see its note.' }]);
	});
});

describe('custom execution data', () => {
	const fireNode = (name: string, x: number): INode => ({
		id: name,
		name,
		type: NODE_TYPE,
		typeVersion: 1,
		position: [x, 0],
		parameters: fireParameters({ options: {} }),
		credentials: { bitrix24VibecodeApi: { id: '1', name: 'Vibecode account' } },
		onError: 'continueErrorOutput',
	});

	test('two Fire nodes of one execution add their counts up', async () => {
		troubles();
		const apiKey = freshKey(box.sandbox);
		const run = await clock.runUntil(
			runGraph({
				items: ids(3),
				nodes: [fireNode('Fire A', 200), fireNode('Fire B', 400)],
				connections: { Items: { main: [[{ node: 'Fire A', type: 'main', index: 0 }, { node: 'Fire B', type: 'main', index: 0 }]] } },
				credentials: { '1': { apiKey, baseUrl: box.sandbox.url } },
			}),
		);

		// Deal 2's unclear answer and deal 3's refusal were injected once: one node met them, the
		// other fired all three, deal 1 for the second time, when it had already moved.
		expect(run.data.resultData.metadata).toEqual({
			vibecode_needs_check: 'yes',
			vibecode_may_have_fired: '1',
			vibecode_failed: '1',
			vibecode_not_moved: '1',
			vibecode_skipped: '0',
			vibecode_fired: '4',
		});
	});

	test("n8n's 10 keys taken by others: what fits is written, the run goes on unchanged, and the log says what was not", async () => {
		const EIGHT_KEYS = 'harness.eightKeys';
		const eightKeys: INodeType = {
			description: { displayName: 'Eight Keys', name: EIGHT_KEYS, group: ['transform'], version: 1, description: '', defaults: { name: 'Eight Keys' }, inputs: ['main'], outputs: ['main'], properties: [] },
			async execute(this: IExecuteFunctions) {
				const { customData } = this.getWorkflowDataProxy(0).$execution as { customData: { set(key: string, value: string): void } };
				for (let i = 1; i <= 8; i++) customData.set(`order_${i}`, String(i));
				return [this.getInputData()];
			},
		};
		box.sandbox.injectFault({ kind: 'json502', match: { path: '/v1/triggers/fire', entityId: '2' } });
		const apiKey = freshKey(box.sandbox);
		const run = await clock.runUntil(
			runGraph({
				items: ids(2),
				nodes: [{ id: 'keys', name: 'Eight Keys', type: EIGHT_KEYS, typeVersion: 1, position: [100, 0], parameters: {} }, fireNode(VIBECODE_NODE, 200)],
				connections: {
					Items: { main: [[{ node: 'Eight Keys', type: 'main', index: 0 }]] },
					'Eight Keys': { main: [[{ node: VIBECODE_NODE, type: 'main', index: 0 }]] },
				},
				credentials: { '1': { apiKey, baseUrl: box.sandbox.url } },
				types: [eightKeys],
			}),
		);

		const outputs = run.data.resultData.runData[VIBECODE_NODE][0].data?.main ?? [];
		expect(outputs.map((items) => items?.length)).toEqual([1, 1]);
		const metadata = run.data.resultData.metadata ?? {};
		expect(Object.keys(metadata)).toHaveLength(10);
		expect(metadata).toMatchObject({ vibecode_needs_check: 'yes', vibecode_may_have_fired: '1' });
		expect(nodeLines().map(({ level, message }) => [level, message])).toContainEqual([
			'debug',
			`${LABEL}: the run's counts are not in the execution's custom data: n8n keeps 10 keys an execution and others took them (vibecode_failed, vibecode_not_moved, vibecode_skipped, vibecode_fired not written)`,
		]);
	});
});
