import type { IDataObject, IHttpRequestOptions } from 'n8n-workflow';

import { searchPathOf, stageFieldOf, type EntityType } from '../../shared/entityTypes';
import { fingerprint } from '../../transport/pacer';
import { credentialId, tryRead } from '../../transport/request';
import type { Run } from './run';

// The record searches of every run in this n8n process (each execution of a webhook stream is a
// run of its own) gather while they wait: a search goes when its turn comes, asking about the IDs
// of every run that asked meanwhile for the same records' type with the same credential and
// request settings, at most a page. A search waits for its turn in the key's pace, and, while
// other runs use the key and the portal has no room to spare, for company (transport/readBudget.ts).
// Fires never gather and never wait for a search.

/** IDs one search asks about: a page of Vibecode's search. */
export const PER_SEARCH = 50;
/** Naps while a search waits for company: a run that stops meanwhile is noticed. */
const MAX_NAP_MS = 1000;

/** What a search found: each ID that exists, with its stage (null: none); undefined when the search could not tell. */
export type Searched = Map<number, string | null> | undefined;

/** A search being gathered, until its turn comes: the IDs asked about, and who waits for the answer. */
interface Gathering {
	group: string;
	type: EntityType;
	ids: Set<number>;
	asks: Array<{ run: Run; answer: (found: Searched) => void }>;
	/** When its first ask came, on the key's clock. */
	since: number;
}

/**
 * The searches open to more IDs, one per group: the process's, as the key's pace is, since the
 * runs that share them are different executions. Each leaves it as it goes: no memory is kept.
 */
const open = new Map<string, Gathering>();

const stageIn = (record: IDataObject, field: string | undefined) => {
	const stage = field === undefined ? undefined : record?.[field];
	return typeof stage === 'string' && stage !== '' ? stage : typeof stage === 'number' ? String(stage) : null;
};

function foundIn(sent: Awaited<ReturnType<typeof tryRead>>, type: EntityType): Searched {
	const data = sent && !sent.failure ? sent.body.data : undefined;
	if (!Array.isArray(data)) return undefined;
	return new Map((data as IDataObject[]).map((record) => [Number(record?.id), stageIn(record, stageFieldOf(type))]));
}

const close = (gathering: Gathering) => open.get(gathering.group) === gathering && open.delete(gathering.group);

function requestOf(lead: Run, { type, ids }: Gathering): IHttpRequestOptions {
	const stageField = stageFieldOf(type);
	const body = { filter: { id: { $in: [...ids] } }, select: stageField ? ['id', stageField] : ['id'], limit: PER_SEARCH };
	return { ...lead.defaults, method: 'POST', url: searchPathOf(type), body };
}

/** Waits while the search may still gather, then sends it with the turn of a run that still waits for it. */
async function go(gathering: Gathering) {
	const lead = () => gathering.asks.find(({ run }) => !run.stopped)?.run;
	for (let run = lead(); run && open.get(gathering.group) === gathering && gathering.ids.size < PER_SEARCH; run = lead()) {
		const { pacer } = run.reads.paced;
		const wait = pacer.readWaitMs(run, gathering.since);
		if (wait <= 0) break;
		await pacer.clock.sleep(Math.min(wait, MAX_NAP_MS));
	}
	let found: Searched;
	for (let run = lead(); run; run = lead()) {
		let made = false;
		const make = () => {
			made = close(gathering);
			return requestOf(run, gathering);
		};
		const sent = await tryRead.call(run.context, run.reads.paced, make, run.reads.policy);
		// Its turn was dropped before it came (the run stopped): the next run that waits leads.
		if (!made && run.stopped) continue;
		found = foundIn(sent, gathering.type);
		break;
	}
	close(gathering);
	for (const { answer } of gathering.asks) answer(found);
}

/**
 * What one search found of `ids` (at most a page) of `type`: sent together with what other runs of
 * this process ask about meanwhile, or at once when none may. Its failure is each asker's: the
 * records it asked about stay unknown.
 */
export function searchShared(run: Run, type: EntityType, ids: number[]): Promise<Searched> {
	const group = `${credentialId(run.credentials)}\n${fingerprint(JSON.stringify(run.defaults))}\n${type}`;
	let gathering = open.get(group);
	if (gathering && gathering.ids.size + ids.filter((id) => !gathering?.ids.has(id)).length > PER_SEARCH) {
		// No room for these: it takes no more and goes as soon as its turn comes.
		close(gathering);
		gathering = undefined;
	}
	const joined = gathering ?? { group, type, ids: new Set<number>(), asks: [], since: run.reads.paced.pacer.clock.now() };
	open.set(group, joined);
	for (const id of ids) joined.ids.add(id);
	const found = new Promise<Searched>((answer) => joined.asks.push({ run, answer }));
	if (!gathering) void go(joined);
	return found;
}
