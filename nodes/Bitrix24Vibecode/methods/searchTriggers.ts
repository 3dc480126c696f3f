import type { IDataObject, ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { DEFAULT_OPTIONS } from '../shared/options';
import { toNodeApiError } from '../transport/errors';
import { baseUrlOf, CREDENTIAL_TYPE, pacerOf, sendPaced } from '../transport/request';

/** The Trigger field's list: the application's triggers, filtered by name or code. */
export async function searchTriggers(
	this: ILoadOptionsFunctions,
	filter?: string,
): Promise<INodeListSearchResult> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE);
	const sent = await sendPaced.call(this, {
		pacer: pacerOf(credentials),
		request: { method: 'GET', baseURL: baseUrlOf(credentials), url: '/v1/triggers' },
		operation: 'list',
		options: DEFAULT_OPTIONS,
		run: {},
	});
	if (sent.failure) throw toNodeApiError(this.getNode(), sent.failure, 'list', 0);
	const body = sent.body;
	const needle = (filter ?? '').trim().toLowerCase();
	const triggers = (Array.isArray(body.data) ? body.data : []) as IDataObject[];
	return {
		results: triggers
			.filter(({ NAME, CODE }) => !needle || `${NAME} ${CODE}`.toLowerCase().includes(needle))
			// The code in the name: it is what "By Code" and List Triggers show.
			.map(({ NAME, CODE }) => ({ name: NAME ? `${NAME} (${CODE})` : String(CODE), value: String(CODE) })),
	};
}
