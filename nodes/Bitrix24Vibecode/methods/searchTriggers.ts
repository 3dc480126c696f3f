import type { IDataObject, ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { TRIGGER_LIST } from '../resources/trigger/triggerList';
import { CREDENTIAL_TYPE } from '../transport/request';
import { readForList } from './read';

/** The Trigger field's list: the application's triggers, filtered by name or code. */
export async function searchTriggers(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE);
	const body = await readForList.call(this, credentials, TRIGGER_LIST, 'list');
	const needle = (filter ?? '').trim().toLowerCase();
	const triggers = (Array.isArray(body.data) ? body.data : []) as IDataObject[];
	return {
		results: triggers
			.filter(({ NAME, CODE }) => !needle || `${NAME} ${CODE}`.toLowerCase().includes(needle))
			// The code in the name: it is what "By Code" and List Triggers show.
			.map(({ NAME, CODE }) => ({ name: NAME ? `${NAME} (${CODE})` : String(CODE), value: String(CODE) })),
	};
}
