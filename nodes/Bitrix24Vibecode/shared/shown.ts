/** A value as an error message quotes it: as text, cut to a readable length. */
export function shown(value: unknown): string {
	let text: string;
	try {
		text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
	} catch {
		text = String(value);
	}
	return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
