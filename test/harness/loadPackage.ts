import { PackageDirectoryLoader, RoutingNode, type ExecuteContext } from 'n8n-core';
import type { ICredentialType, INodeType } from 'n8n-workflow';

import { PACKAGE_ROOT } from './system';

export const NODE_TYPE = 'n8n-nodes-bitrix24-vibecode.bitrix24Vibecode';
export const CREDENTIAL_TYPE = 'bitrix24VibecodeApi';

export interface LoadedPackage {
	nodeType: INodeType;
	credentialType: ICredentialType;
}

let loaded: Promise<LoadedPackage> | undefined;

/**
 * n8n's server (packages/cli NodeTypes.getByNameAndVersion, not a library) gives a declarative
 * node an execute() that runs n8n-core's RoutingNode; WorkflowExecute then runs it as any node,
 * with the execution's cancel signal, and runs a custom operation instead where one is defined.
 */
function asServed(nodeType: INodeType): INodeType {
	if (nodeType.execute || !nodeType.description.requestDefaults) return nodeType;
	nodeType.execute = async function (this: ExecuteContext) {
		return (await new RoutingNode(this, nodeType).runNode()) ?? [];
	};
	return nodeType;
}

/**
 * Loads the built package from dist/ through n8n's own PackageDirectoryLoader, as an
 * installed community package is loaded; it also adds the "requestOptions" setting
 * (batching, timeout, proxy) that n8n gives every declarative node.
 */
export function loadPackage(): Promise<LoadedPackage> {
	loaded ??= (async () => {
		const loader = new PackageDirectoryLoader(PACKAGE_ROOT);
		await loader.loadAll();
		const node = loader.nodeTypes[NODE_TYPE] ?? loader.nodeTypes['bitrix24Vibecode'];
		const credential = loader.credentialTypes[CREDENTIAL_TYPE];
		if (!node || !credential) {
			throw new Error(
				`dist/ does not hold the package (found ${Object.keys(loader.nodeTypes).join(', ')}): run npm run build`,
			);
		}
		return { nodeType: asServed(node.type as INodeType), credentialType: credential.type };
	})();
	return loaded;
}
