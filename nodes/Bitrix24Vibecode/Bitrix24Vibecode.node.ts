import { NodeConnectionTypes, type INodeType, type INodeTypeDescription } from 'n8n-workflow';

import { searchRecords } from './methods/searchRecords';
import { searchTriggers } from './methods/searchTriggers';
import { triggerDescription } from './resources/trigger';
import { fireOperation } from './resources/trigger/fire';

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

	// Where a custom operation exists, n8n runs it instead of its declarative engine: Fire Trigger
	// owns its item loop for a workflow's items and AI Agent v3's tool calls. AI Agent 2.2 and
	// older run the node through the declarative engine, whose routing reaches the same code.
	customOperations = { trigger: { fire: fireOperation } };
}
