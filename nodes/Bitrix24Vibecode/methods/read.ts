import type { IDataObject, IHttpRequestOptions, ILoadOptionsFunctions } from 'n8n-workflow';

import { apiError, type Operation } from '../errors';
import { DEFAULT_OPTIONS } from '../options';
import { retryPolicy, turnOf } from '../transport/policy';
import { baseUrlOf, pacerOf, send } from '../transport/request';

/**
 * A read for the editor's lists (triggers, records, the portal): under the key's pace with the
 * default options, its failure worded as the node words it.
 */
export async function readForList(
	this: ILoadOptionsFunctions,
	credentials: IDataObject,
	request: IHttpRequestOptions,
	operation: Exclude<Operation, 'fire'>,
): Promise<IDataObject> {
	const paced = { pacer: pacerOf(credentials), turn: turnOf(DEFAULT_OPTIONS, {}) };
	const withBase = { ...request, baseURL: baseUrlOf(credentials) };
	const sent = await send.call(this, paced, withBase, retryPolicy(DEFAULT_OPTIONS, { write: false }));
	if (sent.failure) throw apiError(this.getNode(), 0, sent.failure, operation);
	return sent.body;
}
