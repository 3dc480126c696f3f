import { PackageDirectoryLoader } from 'n8n-core';
import type { ICredentialType, INodeType } from 'n8n-workflow';

import { asServed } from './served';
import { PACKAGE_ROOT } from './system';

export const NODE_TYPE = 'n8n-nodes-bitrix24-vibecode.bitrix24Vibecode';
export const CREDENTIAL_TYPE = 'bitrix24VibecodeApi';

export interface LoadedPackage {
	nodeType: INodeType;
	credentialType: ICredentialType;
}

let loaded: Promise<LoadedPackage> | undefined;

/**
 * Loads the built package from dist/ through n8n's own PackageDirectoryLoader, as an
 * installed community package is loaded; it also adds the "requestOptions" setting
 * (batching, timeout, proxy) that n8n gives every declarative node. The node comes back as n8n's
 * server serves it (./served). Loaded once per module registry: each test file gets its own.
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
