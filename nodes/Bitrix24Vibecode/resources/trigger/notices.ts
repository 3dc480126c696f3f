import type { NodeExecutionHint } from 'n8n-workflow';

import type { Named, Tally } from './tally';
import { recordName } from '../../errors';
import type { PaceHold } from '../../transport/pacer';

// What a person reads about a run outside its items: the hints at the top of the output pane and
// the node's lines in n8n's log. Error messages are ../../errors.ts'.

/** How many records a hint or a log line names before "and N more". */
const FEW = 3;
const FIRE_UNANSWERED = '"Fire Once Keys Left Unanswered" set to "Fire (I Checked the Records)"';

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** "Deal 5141, 5142, Lead 7 and 3 more": the first few, each type named once for the records of it that follow. */
export function namesOf(named: Named[]): string {
	let lastType: string | undefined;
	const parts = named.slice(0, FEW).map(({ itemIndex, record }) => {
		const type = record?.entityType;
		const part = !record ? `item ${itemIndex}` : type === lastType ? `${record.entityId}` : recordName(record);
		lastType = type;
		return part;
	});
	const more = named.length - parts.length;
	if (more > 0) return `${parts.join(', ')} and ${more.toLocaleString('en-US')} more`;
	return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
}

/** Where the items of a kind are: the output the node's On Error setting sends failed items to. */
export type Where = 'error output' | 'main output';

/** One warning per kind of item that needs a person, an info for records that did not move, or what a rehearsal would do. */
export function runHints(tally: Tally, at: { where: Where; notMovedFails: boolean; rehearse: boolean }): NodeExecutionHint[] {
	const hints: NodeExecutionHint[] = [];
	const hint = (type: NodeExecutionHint['type'], message: string) => hints.push({ type, message, location: 'outputPane' });
	/** A kind's records, and the words that go with one or with several. */
	const wordsOf = (named: Named[]) => {
		const one = named.length === 1;
		const there =
			at.where === 'error output'
				? `${one ? 'It is' : 'They are'} on the error output.`
				: `${one ? 'It is in the output with' : 'They are in the output, each with'} an "error" field.`;
		return { names: capitalized(namesOf(named)), it: one ? 'it' : 'them', its: one ? 'its' : 'their', was: one ? 'was' : 'were', eachIts: one ? 'its' : "each item's", there };
	};
	const { mayHaveFired, unanswered, failed, notMoved } = tally;
	if (at.rehearse) {
		hint('info', `Rehearsal, nothing was fired: a real run would fire ${tally.wouldFire}, fail ${failed.length + mayHaveFired.length + unanswered.length} and skip ${tally.skipped}.`);
		return hints;
	}
	if (mayHaveFired.length) {
		const w = wordsOf(mayHaveFired);
		hint('warning', `${w.names} may already have fired: check ${w.it} in Bitrix24 before running ${w.it} again. ${w.there}`);
	}
	if (unanswered.length) {
		const w = wordsOf(unanswered);
		hint('warning', `${w.names} ${w.was} not fired: another execution claimed ${w.its} Fire Once Key and never recorded an answer. Check ${w.it} in Bitrix24, then run ${w.it} with ${FIRE_UNANSWERED}. ${w.there}`);
	}
	if (failed.length) {
		const w = wordsOf(failed);
		hint('warning', `${w.names} failed and ${w.was} not fired: see ${w.eachIts} error. ${w.there}`);
	}
	if (notMoved.length) {
		const w = wordsOf(notMoved);
		const what = `${w.names} ${w.was} fired and did not move`;
		if (at.notMovedFails) hint('warning', `${what}: "When the Record Did Not Move" fails ${w.it}. ${w.there}`);
		else hint('info', `${what}: see ${w.eachIts} note.`);
	}
	return hints;
}

/** Who writes a log line: the node, its workflow and the execution, never a secret. */
export const logLabel = (at: { node: string; workflow: string; execution: string }) =>
	`Bitrix24 Vibecode node "${at.node}" in workflow "${at.workflow}" (execution ${at.execution})`;

/** "about 12 minutes", "about 40 seconds". */
function duration(ms: number): string {
	const seconds = Math.max(1, Math.round(ms / 1000));
	if (seconds < 90) return count(seconds, 'second');
	const minutes = Math.round(seconds / 60);
	return minutes < 90 ? count(minutes, 'minute') : `${(minutes / 60).toFixed(1)} hours`;
}

/** "fired 230 (4 did not move), may have fired 1, failed 2, skipped 7": every kind, the ones that need a person too. */
function totals(tally: Tally): string {
	const notMoved = tally.notMoved.length ? ` (${tally.notMoved.length.toLocaleString('en-US')} did not move)` : '';
	const parts = [`fired ${tally.fired.toLocaleString('en-US')}${notMoved}`, `may have fired ${tally.mayHaveFired.length}`];
	if (tally.unanswered.length) parts.push(`Fire Once keys left unanswered ${tally.unanswered.length}`);
	parts.push(`failed ${tally.failed.length.toLocaleString('en-US')}`, `skipped ${tally.skipped.toLocaleString('en-US')}`);
	return parts.join(', ');
}

const HOLDS: Record<PaceHold, string> = {
	portal: 'the Bitrix24 portal pushing back (overloaded answers)',
	others: 'other users of the key (other n8n processes or apps)',
	company: "other executions on the key in this n8n process (their fires and their record checks' searches)",
	refused: "a 429's wait (the key's limit refused a request)",
	cap: 'the "Requests per Minute" cap',
};

/** A long run's line every half minute: what is done, what is left, and at what pace. */
export function progressLine(label: string, tally: Tally, pace: { perMinute: number; holds: PaceHold[] }): string {
	const left = tally.total - tally.done;
	const eta = pace.perMinute > 0 ? `, about ${duration((left / pace.perMinute) * 60_000)} to go` : '';
	const why = pace.holds.length ? `; the pace is held down by ${pace.holds.map((hold) => HOLDS[hold]).join(' and ')}` : '';
	return `${label}: ${tally.done.toLocaleString('en-US')} of ${count(tally.total, 'item')} done (${totals(tally)}); ${count(left, 'item')} left at ${Math.round(pace.perMinute).toLocaleString('en-US')} fires a minute${eta}${why}`;
}

/** The last line of a run: its totals. */
export const endLine = (label: string, tally: Tally, tookMs: number) => `${label}: ${count(tally.total, 'item')} done in ${duration(tookMs)}: ${totals(tally)}`;

/** A run that leaves items needing a person says so, by kind and count. */
export function needsCheckLine(label: string, tally: Tally): string {
	const kinds = [
		tally.mayHaveFired.length && `${count(tally.mayHaveFired.length, 'item')} may have fired (${namesOf(tally.mayHaveFired)})`,
		tally.unanswered.length && `${count(tally.unanswered.length, 'item')} not sent: another execution left its Fire Once Key unanswered (${namesOf(tally.unanswered)})`,
		tally.failed.length && `${count(tally.failed.length, 'item')} failed, not fired (${namesOf(tally.failed)})`,
	].filter(Boolean);
	return `${label}: items need a check by hand: ${kinds.join('; ')}. The node's output lists them, each with what to do`;
}

/** Why the execution's custom data does not hold this run's counts. */
export const noCustomDataLine = (label: string, why: string) => `${label}: the run's counts are not in the execution's custom data: ${why}`;
