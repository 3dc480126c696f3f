import { ExecuteContext, RoutingNode } from 'n8n-core';
import type { ICredentialDataDecryptedObject, IDataObject, INode, INodeType } from 'n8n-workflow';

import { CredentialsHelper } from './credentialsHelper';
import { CREDENTIAL_TYPE, loadPackage } from './loadPackage';
import { oneNodeWorkflow } from './oneNodeWorkflow';
import { additionalDataFor } from './runWorkflow';

export interface CredentialTestResult {
	status: 'OK' | 'Error';
	message: string;
}

function get(data: unknown, path: string): unknown {
	return path.split('.').reduce<unknown>((value, key) => (value as IDataObject | undefined)?.[key], data);
}

/**
 * n8n's "Test" button for a credential with a declarative `test`: the same steps as
 * CredentialsTester.testCredentials in n8n's packages/cli (which is not a library), run on
 * n8n-core's RoutingNode with the credential as loaded from dist/.
 */
export async function testCredential(data: ICredentialDataDecryptedObject): Promise<CredentialTestResult> {
	const { credentialType } = await loadPackage();
	const test = credentialType.test;
	if (!test) throw new Error('the credential has no test');

	const tempType: INodeType = {
		description: {
			displayName: 'Temp',
			name: 'temp',
			group: ['transform'],
			version: 1,
			description: '',
			defaults: { name: 'Temp' },
			inputs: ['main'],
			outputs: ['main'],
			credentials: [{ name: CREDENTIAL_TYPE, required: true }],
			properties: [
				{ displayName: 'Temp', name: 'temp', type: 'string', routing: { request: test.request }, default: '' },
			],
		},
	};
	const node: INode = {
		id: 'temp',
		name: 'Temp-Node',
		type: 'temp',
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
		credentials: { [CREDENTIAL_TYPE]: { id: '1', name: 'Vibecode account' } },
	};
	const workflow = oneNodeWorkflow(node, tempType);
	const withDefaults = await new CredentialsHelper(credentialType, data).getDecrypted();
	const additionalData = additionalDataFor(workflow, credentialType, withDefaults);
	const executeData = { node, data: {}, source: null };
	const context = new ExecuteContext(
		workflow,
		node,
		additionalData,
		'internal',
		{ resultData: { runData: {} } } as never,
		0,
		[],
		{ main: [[{ json: {} }]] },
		executeData,
		[],
	);
	const routingNode = new RoutingNode(context, tempType, {
		id: '1',
		name: 'Vibecode account',
		type: CREDENTIAL_TYPE,
		data: withDefaults,
	});

	let response;
	try {
		response = await routingNode.runNode();
	} catch (error) {
		const { cause, message } = error as { cause?: { response?: { status: number; statusText?: string }; code?: string }; message: string };
		if (cause?.response) {
			for (const rule of test.rules ?? []) {
				if (rule.type === 'responseCode' && rule.properties.value === cause.response.status) {
					return { status: 'Error', message: rule.properties.message };
				}
			}
			return { status: 'Error', message: cause.response.statusText || `Received HTTP status code: ${cause.response.status}` };
		}
		if (cause?.code) return { status: 'Error', message: cause.code };
		return { status: 'Error', message };
	}
	for (const rule of test.rules ?? []) {
		if (rule.type === 'responseSuccessBody') {
			const body = response?.[0]?.[0]?.json;
			if (get(body, rule.properties.key) === rule.properties.value) {
				return { status: 'Error', message: rule.properties.message };
			}
		}
	}
	return { status: 'OK', message: 'Connection successful!' };
}
