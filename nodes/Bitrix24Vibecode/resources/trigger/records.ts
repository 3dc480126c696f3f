import type { IDataObject } from 'n8n-workflow';

import { recordKey, searchPathOf, stageFieldOf, type EntityType, type RecordRef } from '../../shared/entityTypes';
import { tryRead } from '../../transport/request';
import type { Run } from './run';

/** IDs one search asks about: a page of Vibecode's search. */
const PER_SEARCH = 50;

/** What a search found of one record: it exists, at a stage (null: the type has none, or the answer gave none); or not. */
export type Found = { exists: true; stage: string | null } | { exists: false };

const stageIn = (record: IDataObject, field: string | undefined) => {
	const stage = field === undefined ? undefined : record?.[field];
	return typeof stage === 'string' && stage !== '' ? stage : typeof stage === 'number' ? String(stage) : null;
};

/** The records among `ids` that exist, with their stage, or undefined when the search could not tell. */
async function search(run: Run, type: EntityType, ids: number[]): Promise<Map<number, string | null> | undefined> {
	const stageField = stageFieldOf(type);
	const body = { filter: { id: { $in: ids } }, select: stageField ? ['id', stageField] : ['id'], limit: PER_SEARCH };
	const request = { ...run.defaults, method: 'POST' as const, url: searchPathOf(type), body };
	const sent = await tryRead.call(run.context, run.reads.paced, request, run.reads.policy);
	const data = sent && !sent.failure ? sent.body.data : undefined;
	if (!Array.isArray(data)) return undefined;
	return new Map((data as IDataObject[]).map((record) => [Number(record?.id), stageIn(record, stageField)]));
}

/**
 * Looks `records` up in Bitrix24, one search per up to 50 IDs of one type, selecting each type's
 * stage field: what was found of each ("deal:5141"). A record whose search failed is not in the
 * answer: the caller cannot know, and never guesses. Reads are paced and stop nothing.
 */
export async function lookUp(run: Run, records: RecordRef[]): Promise<Map<string, Found>> {
	const idsByType = new Map<EntityType, Set<number>>();
	for (const { entityType, entityId } of records) {
		idsByType.set(entityType, (idsByType.get(entityType) ?? new Set()).add(entityId));
	}
	const searches: Array<{ type: EntityType; ids: number[] }> = [];
	for (const [type, ids] of idsByType) {
		const all = [...ids];
		for (let i = 0; i < all.length; i += PER_SEARCH) searches.push({ type, ids: all.slice(i, i + PER_SEARCH) });
	}
	const looked = new Map<string, Found>();
	await Promise.all(
		searches.map(async ({ type, ids }) => {
			const found = await search(run, type, ids);
			if (!found) return;
			for (const entityId of ids) {
				const key = recordKey({ entityType: type, entityId });
				looked.set(key, found.has(entityId) ? { exists: true, stage: found.get(entityId) ?? null } : { exists: false });
			}
		}),
	);
	return looked;
}
