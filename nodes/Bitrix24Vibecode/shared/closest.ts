/** A registered trigger: its code, and its name where the list gave one. */
export interface Registered {
	code: string;
	name: string;
}

const MAX_SUGGESTIONS = 5;

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
export function levenshtein(a: string, b: string): number {
	const s = a.toLowerCase();
	const t = b.toLowerCase();
	let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
	for (let i = 1; i <= s.length; i++) {
		const current = [i];
		for (let j = 1; j <= t.length; j++) {
			const substitution = previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1);
			current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
		}
		previous = current;
	}
	return previous[t.length];
}

/** The registered triggers closest to a code, closest first (ties in list order). */
export function closest(code: string, registered: Registered[], max = MAX_SUGGESTIONS): Registered[] {
	return registered
		.map((trigger, order) => ({ trigger, order, distance: levenshtein(code, trigger.code) }))
		.sort((x, y) => x.distance - y.distance || x.order - y.order)
		.slice(0, max)
		.map(({ trigger }) => trigger);
}
