import type { IDataObject, IHttpRequestOptions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { shown } from '../../shared/shown';
import { systemClock } from '../../transport/clock';
import type { Failure } from '../../transport/failure';
import { ProcessCache } from '../../transport/processCache';
import { credentialId } from '../../transport/request';
import { apiError } from './errors';
import type { FireInput } from './fireInput';
import { failed, unsettled, type Item } from './item';
import { checkRead, type Run } from './run';

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

/** What a read of the list tells the check. */
export type TriggerList =
	/** The application's triggers; `remembered` when they come from an earlier read. */
	| { registered: Registered[]; remembered: boolean; refusal?: undefined }
	/** The key or session was refused: the fires would be refused the same way. */
	| { refusal: Failure; registered?: undefined }
	/** Nothing to go by (any other failure, an answer without a list): the fires go unchecked. */
	| undefined;

/** How long a list read is trusted: a trigger registered since is found by the read on a miss. */
const REMEMBER_MS = 60_000;
/** Lists read lately, by credential (key and session): at steady state a run reads none. */
const remembered = new ProcessCache<string, { at: number; registered: Registered[] }>();


/** Drops the credential's remembered list: Bitrix24 refused a code it had. */
export const forgetTriggerList = (run: Run) => remembered.delete(credentialId(run.credentials));

/** A refusal of the key or the session (401, 402), which every fire of the run would meet too. */
const refusesFiresToo = (failure: Failure) => failure.httpCode === '401' || failure.httpCode === '402';

/**
 * The application's triggers, remembered per credential for a minute unless `fresh` is asked.
 * A failure never stops a fire by guessing: only a refusal of the key or session is reported.
 */
export async function triggerList(run: Run, { fresh }: { fresh: boolean }): Promise<TriggerList> {
	const id = credentialId(run.credentials);
	const known = remembered.get(id);
	if (!fresh && known && systemClock.now() - known.at < REMEMBER_MS) return { registered: known.registered, remembered: true };
	const sent = await checkRead(run, TRIGGER_LIST);
	if (sent?.failure) return refusesFiresToo(sent.failure) ? { refusal: sent.failure } : undefined;
	const data = sent?.body.data;
	if (!Array.isArray(data)) return undefined;
	const registered = (data as IDataObject[])
		.filter((t) => t && (typeof t.CODE === 'string' || typeof t.CODE === 'number'))
		.map((t) => ({ code: String(t.CODE), name: typeof t.NAME === 'string' ? t.NAME : '' }));
	remembered.set(id, { at: systemClock.now(), registered });
	return { registered, remembered: false };
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

/** "Registered trigger codes, closest first: …": what the application could have meant. */
export function closestCodesText(code: string, registered: Registered[]): string {
	if (registered.length === 0) return 'This OAuth application has registered no triggers on the portal.';
	const named = ({ code: c, name }: Registered) => (name ? `${c} (${name})` : c);
	const suggestions = closest(code, registered);
	const rest = registered.length - suggestions.length;
	const more = rest > 0 ? ` (and ${rest} more: see List Triggers)` : '';
	return `Registered trigger codes, closest first: ${suggestions.map(named).join(', ')}${more}.`;
}

/** The item's error when its code is not one the application registered; undefined when it is. */
export function unknownTriggerError(run: Run, itemIndex: number, code: string, registered: Registered[]) {
	if (registered.some((trigger) => trigger.code === code)) return undefined;
	return new NodeOperationError(run.node, `Unknown Trigger "${shown(code)}" in item ${itemIndex}`, {
		itemIndex,
		description: `The trigger code is not one of this application's triggers (their list was read just now), so it was not sent: Bitrix24 refuses a code the application did not register. ${closestCodesText(code, registered)}`,
	});
}

/**
 * A code the application did not register fails before anything is sent (Bitrix24 would refuse
 * it); the list is read again once when a remembered one lacks a code. A refusal of the key or
 * session fails the items with it. Returns the list, for naming codes later.
 */
export async function checkTriggerCodes(run: Run, items: Item[]): Promise<Registered[] | undefined> {
	const unsent = unsettled(items);
	if (!run.options.checkTriggerCodes || !canListTriggers(run.credentials) || !unsent.length || run.signal?.aborted) return undefined;
	const lacks = (registered: Registered[]) =>
		unsent.some((item) => !registered.some((trigger) => trigger.code === item.input?.triggerId));
	let list = await triggerList(run, { fresh: false });
	if (list?.registered && list.remembered && lacks(list.registered)) list = await triggerList(run, { fresh: true });
	if (list?.refusal) {
		for (const item of unsent) item.outcome = failed(apiError(run.node, item.itemIndex, list.refusal, 'fire'));
		return undefined;
	}
	for (const item of list ? unsent : []) {
		const error = unknownTriggerError(run, item.itemIndex, (item.input as FireInput).triggerId, list?.registered ?? []);
		if (error) item.outcome = failed(error);
	}
	return list?.registered;
}

