'use strict';

// Shared by scripts/e2e-n8n.js and scripts/e2e-queue.js: what must hold after an n8n process was
// killed (SIGKILL) in the middle of a bulk fire with "Fire Once Across Executions" on, and a
// second execution (n8n's Retry of the crashed execution, or the same event delivered again)
// ran the same deals. Issue 22, point 5.

const assert = require('node:assert/strict');

const FIRE_ONCE_UNANSWERED = 'FIRE_ONCE_UNANSWERED';

/** How many times the sandbox applied a fire with `apiKeyId` for each of `ids` (deals, payment_received). */
function fireCounts(fires, ids, apiKeyId) {
	const counts = new Map(ids.map((id) => [String(id), 0]));
	for (const f of fires) {
		const id = String(f.entityId);
		if (f.apiKeyId === apiKeyId && f.entityType === 'deal' && f.triggerId === 'payment_received' && counts.has(id)) counts.set(id, counts.get(id) + 1);
	}
	return counts;
}

/** The last run of a node in an execution's data, as [main items json, error items json]. */
function nodeOutputs(executionData, nodeName) {
	const runs = executionData?.resultData?.runData?.[nodeName] ?? [];
	const last = runs[runs.length - 1];
	assert.ok(last, `node "${nodeName}" did not run (runData has ${JSON.stringify(Object.keys(executionData?.resultData?.runData ?? {}))})`);
	assert.equal(last.error, undefined, `node "${nodeName}" failed: ${last.error?.message}`);
	const [main = [], errors = []] = (last.data?.main ?? []).map((items) => (items ?? []).map((item) => item.json));
	return { main, errors };
}

/**
 * What the node answered for each deal: 'fired' (success: true), 'skipped' (Fire Once skipped it),
 * 'unanswered' (FIRE_ONCE_UNANSWERED on the error output), else 'main:<json>' / 'error:<code>'.
 * Returns Map id → list of answers (a correct run has exactly one per deal).
 */
function answersOf({ main, errors }) {
	const answers = new Map();
	const add = (id, what) => answers.set(String(id), [...(answers.get(String(id)) ?? []), what]);
	for (const j of main) {
		const id = j.entityId ?? j.dealId;
		add(id, j.success === true ? 'fired' : j.skipped === true ? 'skipped' : `main:${JSON.stringify(j).slice(0, 120)}`);
	}
	for (const j of errors) {
		const id = j.error?.entityId ?? j.entityId ?? j.dealId;
		add(id, j.error?.code === FIRE_ONCE_UNANSWERED ? 'unanswered' : `error:${j.error?.code ?? j.error?.message ?? JSON.stringify(j.error)}`);
	}
	return answers;
}

/** "N fires in Xs (R/s)", first to last applied fire. */
function pace(fires) {
	if (fires.length < 2) return `${fires.length} fires`;
	const at = fires.map((f) => f.at);
	const seconds = (Math.max(...at) - Math.min(...at)) / 1000;
	return `${fires.length} fires in ${seconds.toFixed(1)}s (${((fires.length - 1) / seconds).toFixed(1)}/s)`;
}

const listed = (ids, n = 10) => `${ids.slice(0, n).join(', ')}${ids.length > n ? ` … (${ids.length} in all)` : ''}`;
const tally = (values) => Object.entries(values.reduce((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {}))
	.map(([k, n]) => `${k}: ${n}`)
	.join(', ');

/**
 * The sets behind the checks. `crash` and `second` are fireCounts of the crashed run (as seen
 * right after the kill) and of the second execution; `answers` is answersOf(the second execution).
 */
function analyse({ ids, crash, second, answers }) {
	const all = ids.map(String);
	const single = (id) => (answers.get(id) ?? []).length === 1 ? answers.get(id)[0] : `${(answers.get(id) ?? []).length} answers`;
	const firedInCrash = all.filter((id) => crash.get(id) > 0);
	const unanswered = all.filter((id) => (answers.get(id) ?? []).includes('unanswered'));
	const firedBySecond = all.filter((id) => second.get(id) > 0);
	return {
		all,
		answersMap: answers,
		single,
		firedInCrash,
		unanswered,
		firedBySecond,
		// applied before the kill, its answer lost with the process: the node could not know
		inFlight: firedInCrash.filter((id) => unanswered.includes(id)),
		neverFired: all.filter((id) => crash.get(id) + second.get(id) === 0),
		measured: {
			firedBeforeKill: firedInCrash.length,
			unanswered: unanswered.length,
			inFlightAtKill: firedInCrash.filter((id) => unanswered.includes(id)).length,
			firedBySecond: firedBySecond.length,
			answers: tally(all.map(single)),
		},
	};
}

/**
 * Checks 1–4 of issue 22 point 5, as [label, fn] pairs; `crash` and `secondFires` are the
 * fireCounts, `second` names the second execution ('retry', 'redelivery'). Each fn throws an AssertionError naming the deals that break it.
 */
function crashAssertions(a, { crash, secondFires, maxUnanswered, second = 'retry' }) {
	return [
		[`1. no deal fired twice across the crashed run and the ${second}`, () => {
			const twice = a.all.filter((id) => crash.get(id) + secondFires.get(id) > 1);
			assert.ok(twice.length === 0, `fired twice: ${listed(twice.map((id) => `${id} (${crash.get(id)}+${secondFires.get(id)})`))}`);
		}],
		[`2. every deal never fired is reported ${FIRE_ONCE_UNANSWERED} by the ${second}, at most ${maxUnanswered} of them`, () => {
			const unreported = a.neverFired.filter((id) => !a.unanswered.includes(id));
			assert.ok(unreported.length === 0, `never fired and not reported "may have fired": ${listed(unreported.map((id) => `${id} (${a.single(id)})`))}`);
			assert.ok(a.unanswered.length <= maxUnanswered, `${a.unanswered.length} deals reported ${FIRE_ONCE_UNANSWERED} (at most ${maxUnanswered}): ${listed(a.unanswered)}`);
		}],
		[`3. every deal fired in the crashed run is skipped or ${FIRE_ONCE_UNANSWERED} in the ${second}, never fired again`, () => {
			const wrong = a.firedInCrash.filter((id) => !['skipped', 'unanswered'].includes(a.single(id)) || secondFires.get(id) > 0);
			assert.ok(wrong.length === 0, `fired in the crashed run, then: ${listed(wrong.map((id) => `${id} (${a.single(id)}, ${secondFires.get(id)} fires)`))}`);
		}],
		[`4. the ${second} fires every deal the crashed run neither fired nor left unanswered`, () => {
			const answersWrong = a.all.filter((id) => (a.answersMap.get(id) ?? []).length !== 1);
			assert.ok(answersWrong.length === 0, `one output item per deal; not so for ${listed(answersWrong.map((id) => `${id} (${a.single(id)})`))}`);
			const expected = a.all.filter((id) => !a.firedInCrash.includes(id) && !a.unanswered.includes(id));
			const missed = expected.filter((id) => a.single(id) !== 'fired' || secondFires.get(id) !== 1);
			assert.ok(missed.length === 0, `not fired once by the ${second}: ${listed(missed.map((id) => `${id} (${a.single(id)}, ${secondFires.get(id)} fires)`))}`);
			// the partition: fired before the kill (answered), fired by the second execution, unanswered
			const parts = a.firedInCrash.filter((id) => !a.unanswered.includes(id)).length + a.firedBySecond.length + a.unanswered.length;
			assert.ok(parts === a.all.length, `fired before the kill (answered) ${a.firedInCrash.length - a.inFlight.length} + fired by the ${second} ${a.firedBySecond.length} + unanswered ${a.unanswered.length} = ${parts}, not ${a.all.length}`);
		}],
	];
}

module.exports = { FIRE_ONCE_UNANSWERED, fireCounts, pace, nodeOutputs, answersOf, analyse, crashAssertions, listed, tally };
