import pkg from '../package.json';
import { loadPackage } from './harness/loadPackage';
import { load } from './harness/system';

test('require() of the package gives the node and the credential that n8n loads through the "n8n" field', async () => {
	// What Node.js does for require('n8n-nodes-bitrix24-vibecode'): package.json's "main".
	const { Bitrix24Vibecode, Bitrix24VibecodeApi } = load(`./${pkg.main}`);
	const { nodeType, credentialType } = await loadPackage();

	expect(nodeType).toBeInstanceOf(Bitrix24Vibecode);
	expect(credentialType).toBeInstanceOf(Bitrix24VibecodeApi);
});
