import { recordKey, type EntityType, type RecordRef } from '../../shared/entityTypes';
import type { Run } from './run';
import { PER_SEARCH, searchShared } from './sharedSearch';

/** What a search found of one record: it exists, at a stage (null: the type has none, or the answer gave none); or not. */
export type Found = { exists: true; stage: string | null } | { exists: false };

/**
 * Looks `records` up in Bitrix24, one search per up to 50 IDs of one type (shared with other runs'
 * searches waiting meanwhile: ./sharedSearch.ts), selecting each type's stage field: what was found
 * of each ("deal:5141"). A record whose search failed is not in the answer: the caller cannot
 * know, and never guesses. Reads are paced and stop nothing.
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
			const found = await searchShared(run, type, ids);
			if (!found) return;
			for (const entityId of ids) {
				const key = recordKey({ entityType: type, entityId });
				looked.set(key, found.has(entityId) ? { exists: true, stage: found.get(entityId) ?? null } : { exists: false });
			}
		}),
	);
	return looked;
}
