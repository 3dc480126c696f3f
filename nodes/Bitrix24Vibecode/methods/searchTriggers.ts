import type { IDataObject, ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { baseUrlOf, CREDENTIAL_TYPE, DEFAULT_PACING, pacerOf, sendPaced } from '../transport/request';

/** "From List" of the Trigger field: the application's triggers, filtered by name or code. */
export async function searchTriggers(
	this: ILoadOptionsFunctions,
	filter?: string,
): Promise<INodeListSearchResult> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE);
	const body = await sendPaced.call(
		this,
		await pacerOf(this),
		{ method: 'GET', baseURL: baseUrlOf(credentials), url: '/v1/triggers' },
		'list',
		DEFAULT_PACING,
		0,
		{ run: {}, isCancelled: () => false },
	);
	const needle = (filter ?? '').trim().toLowerCase();
	const triggers = (Array.isArray(body.data) ? body.data : []) as IDataObject[];
	return {
		results: triggers
			.map((trigger) => ({ name: String(trigger.NAME ?? trigger.CODE), value: String(trigger.CODE) }))
			.filter(
				({ name, value }) =>
					!needle || name.toLowerCase().includes(needle) || value.toLowerCase().includes(needle),
			),
	};
}
