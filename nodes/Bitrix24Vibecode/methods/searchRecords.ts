import type { ICredentialDataDecryptedObject, IDataObject, ILoadOptionsFunctions, INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';

import { listEntityTypeError } from '../errors';
import { ENTITY, isEntityType, searchPathOf, titleFieldsOf, type EntityType } from '../shared/entityTypes';
import { ProcessCache } from '../transport/processCache';
import { CREDENTIAL_TYPE, credentialId } from '../transport/request';
import { readForList } from './read';

const PAGE_SIZE = 50;

interface Page {
	records: IDataObject[];
	/** The records this query has from its offset on, by meta.total (hasMore can be wrong). */
	more: boolean;
	received: number;
}

// ---- The portal's domain, for the records' links -------------------------------------------

/** Portal domain (or undefined: no links) by credential; in flight or answered. */
const portals = new ProcessCache<string, Promise<string | undefined>>();

/** `portal` as a domain string, or `portal.domain` as the Connect API answers it. */
function portalDomainOf(me: IDataObject): string | undefined {
	const data = (typeof me.data === 'object' && me.data ? me.data : {}) as IDataObject;
	const portal = data.portal as unknown;
	const raw =
		typeof portal === 'string'
			? portal
			: typeof portal === 'object' && portal
				? (portal as IDataObject).domain
				: (data.portalDomain ?? data.domain);
	if (typeof raw !== 'string') return undefined;
	const host = raw.trim().replace(/^https?:\/\//i, '').replace(/[/?#].*$/, '').toLowerCase();
	return /^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/.test(host) ? host : undefined;
}

/**
 * GET /v1/me once per credential (an application key's portal depends on its session, so the
 * session token counts too). A failure gives no links rather than no list, and is asked again
 * next time.
 */
async function portalDomain(this: ILoadOptionsFunctions, credentials: ICredentialDataDecryptedObject): Promise<string | undefined> {
	const id = credentialId(credentials);
	let known = portals.get(id);
	if (!known) {
		known = readForList.call(this, credentials, { method: 'GET', url: '/v1/me' }, 'search').then(portalDomainOf);
		portals.set(id, known);
		known.catch(() => portals.get(id) === known && portals.delete(id));
	}
	try {
		return await known;
	} catch {
		return undefined;
	}
}

// ---- The search ------------------------------------------------------------------------------

function chosenEntityType(this: ILoadOptionsFunctions): EntityType {
	// The editor's current value: follows a change of Entity Type before the node is saved.
	const value = this.getCurrentNodeParameter('entityType') ?? 'deal';
	const normalized = typeof value === 'string' && !value.startsWith('=') ? value.trim().toLowerCase() : undefined;
	if (isEntityType(normalized)) return normalized;
	throw listEntityTypeError(this.getNode(), value);
}

function offsetOf(paginationToken: string | undefined): number {
	const offset = Number(paginationToken ?? 0);
	return Number.isSafeInteger(offset) && offset > 0 ? offset : 0;
}

async function searchPage(
	this: ILoadOptionsFunctions,
	credentials: ICredentialDataDecryptedObject,
	type: EntityType,
	filter: IDataObject | undefined,
	offset: number,
): Promise<Page> {
	const search = {
		...(filter && { filter }),
		select: ['id', ...titleFieldsOf(type)],
		// Most recent first, with or without a search text.
		order: { id: 'desc' },
		limit: PAGE_SIZE,
		offset,
	};
	const request = { method: 'POST' as const, url: searchPathOf(type), body: search };
	const body = await readForList.call(this, credentials, request, 'search');
	const records = (Array.isArray(body.data) ? body.data : []) as IDataObject[];
	const meta = (typeof body.meta === 'object' && body.meta ? body.meta : {}) as IDataObject;
	const total = Number(meta.total);
	// meta.hasMore can be true on the exact last page: go by the total when there is one.
	const more = Number.isFinite(total) ? offset + records.length < total : records.length === PAGE_SIZE;
	return { records, more: more && records.length > 0, received: records.length };
}

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value).trim());

function entryOf(type: EntityType, record: IDataObject, portal: string | undefined): INodeListSearchItems | undefined {
	const id = Number(record.id);
	if (!Number.isSafeInteger(id) || id <= 0) return undefined;
	const title = titleFieldsOf(type).map((field) => text(record[field])).filter(Boolean).join(' ');
	const entry: INodeListSearchItems = {
		name: title ? `${title} (#${id})` : `${ENTITY[type].label} #${id}`,
		value: String(id),
	};
	if (portal) entry.url = `https://${portal}${ENTITY[type].link}${id}/`;
	return entry;
}

/**
 * The Entity ID field's list: records of the chosen Entity Type, most recent first, searchable
 * by title (contacts: by first name or last name, the title fields of the type's row), 50 per page.
 */
export async function searchRecords(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const type = chosenEntityType.call(this);
	const credentials = await this.getCredentials(CREDENTIAL_TYPE);
	const needle = (filter ?? '').trim();
	const offset = offsetOf(paginationToken);
	const portalPromise = portalDomain.call(this, credentials);

	const fields = titleFieldsOf(type);
	let records: IDataObject[];
	let next: number | undefined;
	if (needle && fields.length > 1) {
		// Whether the search body takes an OR is not documented: one search per title field (a
		// contact's first name, last name), paged side by side with the same offset. A record comes
		// only from the first search whose field matches, so nobody is shown twice, on this page or
		// a later one.
		const pages = await Promise.all(
			fields.map(async (field) => await searchPage.call(this, credentials, type, { [field]: { $contains: needle } }, offset)),
		);
		const lower = needle.toLowerCase();
		const matchedEarlier = (record: IDataObject, index: number) =>
			fields.slice(0, index).some((field) => text(record[field]).toLowerCase().includes(lower));
		records = pages
			.flatMap((page, index) => page.records.filter((record) => !matchedEarlier(record, index)))
			.sort((a, b) => Number(b.id) - Number(a.id));
		next = pages.some((page) => page.more) ? offset + PAGE_SIZE : undefined;
	} else {
		const page = await searchPage.call(this, credentials, type, needle ? { [fields[0]]: { $contains: needle } } : undefined, offset);
		records = page.records;
		next = page.more ? offset + page.received : undefined;
	}

	const portal = await portalPromise;
	const seen = new Set<string>();
	const results: INodeListSearchItems[] = [];
	for (const record of records) {
		const entry = entryOf(type, record, portal);
		if (entry && !seen.has(entry.value as string)) {
			seen.add(entry.value as string);
			results.push(entry);
		}
	}
	return next === undefined ? { results } : { results, paginationToken: String(next) };
}
