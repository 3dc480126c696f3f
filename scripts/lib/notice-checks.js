'use strict';

// Used by scripts/e2e-n8n.js: what a person sees of a Fire run outside its items, as a real n8n
// keeps it (issue 33): the hints on the node's task data, the execution's custom data as n8n's
// REST answers it, and the node's lines in n8n's own log. The expected texts are written here
// from the wording, not taken from the node's code.

const assert = require('node:assert/strict');

/** The hints of a node's last run in an execution's data ([] when it has none). */
function hintsOf(executionData, nodeName) {
	const runs = executionData?.resultData?.runData?.[nodeName] ?? [];
	assert.ok(runs.length, `node "${nodeName}" did not run`);
	return runs[runs.length - 1].hints ?? [];
}

/** "Deal 5141", "Deal 5141 and 5142", "Deal 5141, 5142 and 5143", "Deal 5141, 5142, 5143 and 2 more". */
function dealsNamed(ids) {
	const [first, ...rest] = ids.map(String);
	if (ids.length > 3) return `Deal ${[first, ...rest.slice(0, 2)].join(', ')} and ${ids.length - 3} more`;
	if (!rest.length) return `Deal ${first}`;
	return `Deal ${[first, ...rest.slice(0, -1)].join(', ')} and ${rest[rest.length - 1]}`;
}

/**
 * The custom data a run (or the Fire nodes of one execution, added up) leaves: the counts, and
 * `vibecode_needs_check` = 'yes' only when something needs a check by hand.
 */
function customDataOf({ mayHaveFired = 0, unanswered = 0, failed = 0, notMoved = 0, skipped = 0, fired = 0 }) {
	return {
		...(mayHaveFired + unanswered + failed > 0 && { vibecode_needs_check: 'yes' }),
		vibecode_may_have_fired: String(mayHaveFired + unanswered),
		vibecode_failed: String(failed),
		vibecode_not_moved: String(notMoved),
		vibecode_skipped: String(skipped),
		vibecode_fired: String(fired),
	};
}

/** The lines of n8n's log that one node wrote in one execution, each without the label that starts it. */
function nodeLogLines(logText, { node, workflow, execution }) {
	const label = `Bitrix24 Vibecode node "${node}" in workflow "${workflow}" (execution ${execution}): `;
	return logText
		.split('\n')
		.map((line) => {
			const at = line.indexOf(label);
			return at < 0 ? undefined : line.slice(at + label.length).trimEnd();
		})
		.filter((line) => line !== undefined);
}

const PROGRESS = /^([\d,]+) of ([\d,]+) items done \(fired ([\d,]+)(?: \([\d,]+ did not move\))?, may have fired (\d+)(?:, Fire Once keys left unanswered (\d+))?, failed ([\d,]+), skipped ([\d,]+)\); ([\d,]+) items? left at ([\d,]+) fires a minute(?:, about (.+) to go)?/;
const num = (text) => Number((text ?? '0').replace(/,/g, ''));

/** A progress line's figures, or undefined when the line is not one. */
function progressOf(line) {
	const m = PROGRESS.exec(line);
	if (!m) return undefined;
	const [done, total, fired, mayHaveFired, unanswered, failed, skipped, left, perMinute] = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => num(m[i]));
	return { done, total, fired, mayHaveFired, unanswered, failed, skipped, left, perMinute, eta: m[10], line };
}

module.exports = { hintsOf, dealsNamed, customDataOf, nodeLogLines, progressOf };
