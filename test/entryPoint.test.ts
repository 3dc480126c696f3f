import { Bitrix24Vibecode, Bitrix24VibecodeApi } from '..';
import { loadPackage } from './harness/loadPackage';

test('require() of the package gives the node and the credential that n8n loads through the "n8n" field', async () => {
	const { nodeType, credentialType } = await loadPackage();

	expect(nodeType).toBeInstanceOf(Bitrix24Vibecode);
	expect(credentialType).toBeInstanceOf(Bitrix24VibecodeApi);
});
