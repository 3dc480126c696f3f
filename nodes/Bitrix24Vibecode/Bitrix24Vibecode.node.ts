import { NodeConnectionTypes, type INodeType, type INodeTypeDescription } from 'n8n-workflow';

import { searchRecords } from './methods/searchRecords';
import { searchTriggers } from './methods/searchTriggers';
import { triggerDescription } from './resources/trigger';
import { fireItems } from './resources/trigger/fireItems';

export class Bitrix24Vibecode implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Bitrix24 Vibecode',
		name: 'bitrix24Vibecode',
		icon: { light: 'file:bitrix24Vibecode.svg', dark: 'file:bitrix24Vibecode.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ {"fire": "Fire Trigger", "list": "List Triggers"}[$parameter["operation"]] }}',
		description: 'Fire Bitrix24 CRM automation triggers through the Vibecode API',
		defaults: { name: 'Bitrix24 Vibecode' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'bitrix24VibecodeApi', required: true }],
		requestDefaults: {
			baseURL: '={{ String($credentials.baseUrl).replace(/\\/+$/, "") }}',
			headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
		},
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [{ name: 'Trigger', value: 'trigger' }],
				default: 'trigger',
			},
			...triggerDescription,
		],
	};

	methods = { listSearch: { searchRecords, searchTriggers } };

	// n8n runs a custom operation instead of its declarative engine for the workflow's items, so
	// the node owns Fire Trigger's item loop there. An AI agent's tool calls still take the
	// routing in the description, through the same transport.
	customOperations = { trigger: { fire: fireItems } };
}
