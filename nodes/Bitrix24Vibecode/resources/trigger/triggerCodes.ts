import type { IDataObject, IHttpRequestOptions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { shown } from '../../shared/shown';
import { send } from '../../transport/request';
import { retryPolicy, type Run } from './run';

/** The application's triggers: List Triggers, the Trigger field's list and the code check read it. */
export const TRIGGER_LIST: IHttpRequestOptions = { method: 'GET', url: '/v1/triggers' };

/** A registered trigger: its code, and its name where the list gave one. */
export interface Registered {
	code: string;
	name: string;
}

const MAX_SUGGESTIONS = 5;

/** Only an OAuth application key with a user session may list the application's triggers. */
export function canListTriggers(credentials: IDataObject): boolean {
	return (
		String(credentials.apiKey ?? '').trim().startsWith('vibe_app_') && String(credentials.sessionToken ?? '').trim() !== ''
	);
}

/**
 * The codes of the application's triggers, or undefined when they cannot be known: any
 * failure, or an answer without a list. The check is then skipped: a fire never fails because
 * the list could not be read.
 */
export async function registeredTriggers(run: Run): Promise<Registered[] | undefined> {
	const { baseURL, timeout, proxy, skipSslCertificateValidation } = run.defaults;
	const request = { ...TRIGGER_LIST, baseURL, headers: { Accept: 'application/json' }, timeout, proxy, skipSslCertificateValidation };
	try {
		// Without the run's stop: a list that cannot be read skips the check, it does not stop the fires.
		const paced = { pacer: run.paced.pacer, turn: run.paced.turn };
		const sent = await send.call(run.context, paced, request, retryPolicy(run.options, { write: false }));
		const data = sent.failure ? undefined : sent.body.data;
		if (!Array.isArray(data)) return undefined;
		return (data as IDataObject[])
			.filter((t) => t && (typeof t.CODE === 'string' || typeof t.CODE === 'number'))
			.map((t) => ({ code: String(t.CODE), name: typeof t.NAME === 'string' ? t.NAME : '' }));
	} catch {
		// Cancelled, or anything else: no list, no check. A cancelled run sends nothing anyway.
		return undefined;
	}
}

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

const TURN_OFF =
	'If the trigger was registered only a moment ago, turn off the option "Check Trigger Codes" to fire it anyway.';

/** The item's error when its code is not one the application registered; undefined when it is. */
export function unknownTriggerError(run: Run, itemIndex: number, code: string, registered: Registered[]) {
	if (registered.some((trigger) => trigger.code === code)) return undefined;
	const named = ({ code: c, name }: Registered) => (name ? `${c} (${name})` : c);
	const suggestions = closest(code, registered);
	const rest = registered.length - suggestions.length;
	const known =
		registered.length === 0
			? 'This OAuth application has registered no triggers on the portal, so firing this code would run no automation.'
			: `Bitrix24 would accept it and run no automation. Registered trigger codes, closest first: ${suggestions
					.map(named)
					.join(', ')}${rest > 0 ? ` (and ${rest} more: see List Triggers)` : ''}.`;
	return new NodeOperationError(run.node, `Unknown Trigger "${shown(code)}" in item ${itemIndex}`, {
		itemIndex,
		description: `The trigger code is not one of this application's triggers. ${known} ${TURN_OFF}`,
	});
}
