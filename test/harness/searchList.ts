import { LoadOptionsContext } from 'n8n-core';
import type { ICredentialDataDecryptedObject, INode, INodeListSearchResult } from 'n8n-workflow';

import { CREDENTIAL_TYPE, loadPackage, NODE_TYPE } from './loadPackage';
import { oneNodeWorkflow } from './oneNodeWorkflow';
import { additionalDataFor } from './runWorkflow';

/** What the editor does for a "From List" field: calls the node's listSearch method in n8n-core's context. */
export async function searchList(
	method: string,
	credentials: ICredentialDataDecryptedObject,
	filter?: string,
): Promise<INodeListSearchResult> {
	const { nodeType, credentialType } = await loadPackage();
	const node: INode = {
		id: 'vibecode',
		name: 'Bitrix24 Vibecode',
		type: NODE_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: { resource: 'trigger', operation: 'fire' },
		credentials: { [CREDENTIAL_TYPE]: { id: '1', name: 'Vibecode account' } },
	};
	const workflow = oneNodeWorkflow(node, nodeType);
	const context = new LoadOptionsContext(
		workflow,
		node,
		additionalDataFor(workflow, credentialType, credentials),
		'parameters.triggerId',
	);
	const search = nodeType.methods?.listSearch?.[method];
	if (!search) throw new Error(`no listSearch method ${method}`);
	return await search.call(context, filter);
}
