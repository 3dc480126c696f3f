import type { IDataObject } from 'n8n-workflow';

import { searchPathOf, type EntityType } from './entityTypes';
import { missingRecordError } from './errors';
import type { FireInput } from './fireInput';
import { failed, unsettled, type Item } from './item';
import { checkRead, type Run } from './run';

/** IDs one search asks about: a page of Vibecode's search. */
const PER_SEARCH = 50;

/** A record as the check names it: "deal:99999". */
const recordKey = ({ entityType, entityId }: Pick<FireInput, 'entityType' | 'entityId'>) => `${entityType}:${entityId}`;

/** The IDs among `ids` that exist, or undefined when the search could not tell. */
async function existing(run: Run, type: EntityType, ids: number[]): Promise<Set<number> | undefined> {
	const body = { filter: { id: { $in: ids } }, select: ['id'], limit: PER_SEARCH };
	const sent = await checkRead(run, { method: 'POST', url: searchPathOf(type), body });
	const data = sent && !sent.failure ? sent.body.data : undefined;
	if (!Array.isArray(data)) return undefined;
	return new Set((data as IDataObject[]).map((record) => Number(record?.id)));
}

/**
 * The records among `fires` that do not exist in Bitrix24 ("deal:99999"), found by one search
 * per up to 50 IDs of one type. Bitrix24 accepts a fire for a missing record and runs nothing,
 * so this is the only way to know. A search that fails leaves its records unchecked: they are
 * fired, never stopped by a guess.
 */
async function missingRecords(run: Run, fires: FireInput[]): Promise<Set<string>> {
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


/** An item whose record does not exist fails before anything is sent (Bitrix24 would accept it and run nothing). */
export async function checkRecords(run: Run, items: Item[]): Promise<void> {
	const unsent = unsettled(items);
	if (!run.options.checkRecords || !unsent.length || run.signal?.aborted) return;
	const missing = await missingRecords(run, unsent.map((item) => item.input as FireInput));
	for (const item of unsent) {
		const input = item.input as FireInput;
		if (missing.has(recordKey(input))) item.outcome = failed(missingRecordError(run.node, item.itemIndex, input));
	}
}

