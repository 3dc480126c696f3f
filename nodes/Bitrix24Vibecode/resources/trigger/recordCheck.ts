import type { IDataObject } from 'n8n-workflow';

import { send } from '../../transport/request';
import { searchPathOf, type EntityType } from './entityTypes';
import type { FireInput } from './fireInput';
import { retryPolicy, type Run } from './run';

/** IDs one search asks about: a page of Vibecode's search. */
const PER_SEARCH = 50;

/** A record as the check names it: "deal:99999". */
export const recordKey = ({ entityType, entityId }: Pick<FireInput, 'entityType' | 'entityId'>) => `${entityType}:${entityId}`;

/** The IDs among `ids` that exist, or undefined when the search could not tell. */
async function existing(run: Run, type: EntityType, ids: number[]): Promise<Set<number> | undefined> {
	const { baseURL, headers, timeout, proxy, skipSslCertificateValidation } = run.defaults;
	const request = {
		method: 'POST' as const,
		url: searchPathOf(type),
		body: { filter: { id: { $in: ids } }, select: ['id'], limit: PER_SEARCH },
		baseURL,
		headers,
		timeout,
		proxy,
		skipSslCertificateValidation,
	};
	try {
		// Without the run's stop: a search that fails leaves its records unchecked, it stops nothing.
		const paced = { pacer: run.paced.pacer, turn: run.paced.turn };
		const sent = await send.call(run.context, paced, request, retryPolicy(run.options, { write: false }));
		const data = sent.failure ? undefined : sent.body.data;
		if (!Array.isArray(data)) return undefined;
		return new Set((data as IDataObject[]).map((record) => Number(record?.id)));
	} catch {
		return undefined;
	}
}

/**
 * The records among `fires` that do not exist in Bitrix24 ("deal:99999"), found by one search
 * per up to 50 IDs of one type. Bitrix24 accepts a fire for a missing record and runs nothing,
 * so this is the only way to know. A search that fails leaves its records unchecked: they are
 * fired, never stopped by a guess.
 */
export async function missingRecords(run: Run, fires: FireInput[]): Promise<Set<string>> {
	const idsByType = new Map<EntityType, Set<number>>();
	for (const { entityType, entityId } of fires) {
		idsByType.set(entityType, (idsByType.get(entityType) ?? new Set()).add(entityId));
	}
	const searches: Array<{ type: EntityType; ids: number[] }> = [];
	for (const [type, ids] of idsByType) {
		const all = [...ids];
		for (let i = 0; i < all.length; i += PER_SEARCH) searches.push({ type, ids: all.slice(i, i + PER_SEARCH) });
	}
	const missing = new Set<string>();
	await Promise.all(
		searches.map(async ({ type, ids }) => {
			const found = await existing(run, type, ids);
			for (const entityId of ids) {
				if (found && !found.has(entityId)) missing.add(recordKey({ entityType: type, entityId }));
			}
		}),
	);
	return missing;
}

