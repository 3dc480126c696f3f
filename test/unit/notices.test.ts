import { namesOf, progressLine, runHints } from '../../nodes/Bitrix24Vibecode/resources/trigger/notices';
import type { Named, Tally } from '../../nodes/Bitrix24Vibecode/resources/trigger/tally';

// Oracle: issue 33's wording. A hint per kind names the first few records ("Deal 5141, 5142 and
// 3 more") and the output that holds them; a progress line says what is done and left, the pace
// and the time left at it, and what holds the pace down.

const deal = (entityId: number, itemIndex = entityId): Named => ({ itemIndex, record: { entityType: 'deal', entityId } });
const lead = (entityId: number, itemIndex = entityId): Named => ({ itemIndex, record: { entityType: 'lead', entityId } });
const empty: Tally = { total: 0, done: 0, fired: 0, notMoved: [], mayHaveFired: [], unanswered: [], failed: [], skipped: 0, wouldFire: 0 };
const ERRORS = { where: 'error output' as const, notMovedFails: false, rehearse: false };

describe('namesOf', () => {
	test.each([
		[[deal(5141)], 'Deal 5141'],
		[[deal(5141), deal(5142)], 'Deal 5141 and 5142'],
		[[deal(5141), deal(5142), deal(5143)], 'Deal 5141, 5142 and 5143'],
		[[deal(5141), deal(5142), deal(5143), deal(5144), deal(5145)], 'Deal 5141, 5142, 5143 and 2 more'],
		[[deal(1), lead(7), deal(2)], 'Deal 1, Lead 7 and Deal 2'],
		[[{ itemIndex: 3 }, deal(9)], 'item 3 and Deal 9'],
	])('%j: %s', (named, text) => {
		expect(namesOf(named)).toBe(text);
	});
});

describe('runHints', () => {
	test('a clean run: none', () => {
		expect(runHints({ ...empty, total: 5, done: 5, fired: 5 }, ERRORS)).toEqual([]);
	});

	test('Fire Once keys left unanswered: a warning that says how to fire them once checked', () => {
		expect(runHints({ ...empty, unanswered: [deal(5), deal(6)] }, ERRORS)).toEqual([
			{
				type: 'warning',
				location: 'outputPane',
				message:
					'Deal 5 and 6 were not fired: another execution claimed their Fire Once Key and never recorded an answer. Check them in Bitrix24, then run them with "Fire Once Keys Left Unanswered" set to "Fire (I Checked the Records)". They are on the error output.',
			},
		]);
	});

	test('an item whose input named no record is named by its number', () => {
		expect(runHints({ ...empty, failed: [{ itemIndex: 2 }] }, { ...ERRORS, where: 'main output' }).map((hint) => hint.message)).toEqual([
			'Item 2 failed and was not fired: see its error. It is in the output with an "error" field.',
		]);
	});
});

describe('progressLine', () => {
	test('done, left, the pace, the time left, what holds the pace', () => {
		const tally = { ...empty, total: 5000, done: 1520, fired: 1500, mayHaveFired: [deal(1), deal(2), deal(3)], failed: Array.from({ length: 10 }, (_, i) => deal(i + 10)), skipped: 7 };
		expect(progressLine('Node', tally, { perMinute: 290, holds: ['portal', 'others'] })).toBe(
			'Node: 1,520 of 5,000 items done (fired 1,500, may have fired 3, failed 10, skipped 7); 3,480 items left at 290 fires a minute, about 12 minutes to go; the pace is held down by the Bitrix24 portal pushing back (overloaded answers) and other users of the key (other n8n processes or apps)',
		);
	});

	test('hours for a long way to go', () => {
		expect(progressLine('Node', { ...empty, total: 20_000, done: 100, fired: 100 }, { perMinute: 60, holds: [] })).toMatch(/19,900 items left at 60 fires a minute, about 5\.5 hours to go$/);
	});
});
