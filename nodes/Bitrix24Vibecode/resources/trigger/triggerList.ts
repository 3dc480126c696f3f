import type { IDataObject, IHttpRequestOptions } from 'n8n-workflow';

import type { Registered } from '../../shared/closest';
import { systemClock } from '../../transport/clock';
import type { Failure } from '../../transport/failure';
import { ProcessCache } from '../../transport/processCache';
import { credentialId, tryRead } from '../../transport/request';
import type { Run } from './run';

/** The application's triggers: List Triggers, the Trigger field's list and the code check read it. */
export const TRIGGER_LIST: IHttpRequestOptions = { method: 'GET', url: '/v1/triggers' };

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
	const sent = await tryRead.call(run.context, run.reads.paced, { ...run.defaults, ...TRIGGER_LIST }, run.reads.policy);
	if (sent?.failure) return refusesFiresToo(sent.failure) ? { refusal: sent.failure } : undefined;
	const data = sent?.body.data;
	if (!Array.isArray(data)) return undefined;
	const registered = (data as IDataObject[])
		.filter((t) => t && (typeof t.CODE === 'string' || typeof t.CODE === 'number'))
		.map((t) => ({ code: String(t.CODE), name: typeof t.NAME === 'string' ? t.NAME : '' }));
	remembered.set(id, { at: systemClock.now(), registered });
	return { registered, remembered: false };
}
