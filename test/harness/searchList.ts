import { LoadOptionsContext } from 'n8n-core';
import type { ICredentialDataDecryptedObject, INode, INodeListSearchResult, INodeParameters } from 'n8n-workflow';

import { CREDENTIAL_TYPE, loadPackage, NODE_TYPE } from './loadPackage';
import { oneNodeWorkflow } from './oneNodeWorkflow';
import { additionalDataFor } from './runWorkflow';

export interface SearchListOptions {
	/**
	 * The node's parameters as the editor holds them (saved or not), e.g. { entityType: 'contact' }:
	 * what getCurrentNodeParameter reads. Added to resource 'trigger', operation 'fire'.
	 */
	parameters?: INodeParameters;
	/** What the editor sends back when the user scrolls to the end of the list. */
	paginationToken?: string;
	/** The field whose list is searched. Default: the field that uses the method. */
	field?: string;
}

const FIELD_OF_METHOD: Record<string, string> = { searchTriggers: 'triggerId', searchRecords: 'entityId' };

/** What the editor does for a "From List" field: calls the node's listSearch method in n8n-core's context. */
export async function searchList(
	method: string,
	credentials: ICredentialDataDecryptedObject,
	filter?: string,
	options: SearchListOptions = {},
): Promise<INodeListSearchResult> {
	const { nodeType, credentialType } = await loadPackage();
	const parameters: INodeParameters = { resource: 'trigger', operation: 'fire', ...options.parameters };
	const node: INode = {
		id: 'vibecode',
		name: 'Bitrix24 Vibecode',
		type: NODE_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters,
		credentials: { [CREDENTIAL_TYPE]: { id: '1', name: 'Vibecode account' } },
	};
	const workflow = oneNodeWorkflow(node, nodeType);
	const additionalData = additionalDataFor(workflow, credentialType, credentials);
	// The editor sends the node's current parameters with every list request.
	additionalData.currentNodeParameters = parameters;
	const context = new LoadOptionsContext(
		workflow,
		node,
		additionalData,
		`parameters.${options.field ?? FIELD_OF_METHOD[method] ?? 'triggerId'}`,
	);
	const search = nodeType.methods?.listSearch?.[method];
	if (!search) throw new Error(`no listSearch method ${method}`);
	return await search.call(context, filter, options.paginationToken);
}
