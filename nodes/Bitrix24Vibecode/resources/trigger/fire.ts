import type { IExecuteFunctions, IExecuteSingleFunctions, INodeExecutionData, INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import { ENTITY_TYPE_OPTIONS } from '../../shared/entityTypes';
import { fireItems } from './fireRun';
import { insteadOfRequest } from './routing';
import { itemRunSource, nodeRunSource } from './run';

const showForFire = { show: { resource: ['trigger'], operation: ['fire'] } };

// Fire Trigger is written once (fireItems); n8n reaches it in two ways, each a one-line adapter.

/** n8n's custom operation, run instead of the declarative engine: all items of a node run (and AI Agent v3's tool calls). */
export async function fireOperation(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return [await fireItems(nodeRunSource(this))];
}

/** n8n's declarative engine, one item per run: how AI Agent 2.2 and older call the node as a tool. */
async function fireInDeclarativeEngine(this: IExecuteSingleFunctions): Promise<INodeExecutionData[]> {
	return await fireItems(itemRunSource(this));
}

export const fireOperationOption: INodePropertyOptions = {
	name: 'Fire Trigger',
	value: 'fire',
	action: 'Fire an automation trigger for a CRM record',
	description: 'Make Bitrix24 run the automation rules that listen to a trigger, for one CRM record',
	routing: insteadOfRequest(fireInDeclarativeEngine),
};

export const fireFields: INodeProperties[] = [
	{
		displayName: 'Entity Type',
		name: 'entityType',
		type: 'options',
		required: true,
		displayOptions: showForFire,
		options: ENTITY_TYPE_OPTIONS,
		default: 'deal',
		description: 'The kind of CRM record the trigger is fired for',
	},
	{
		displayName: 'Entity ID',
		name: 'entityId',
		type: 'resourceLocator',
		required: true,
		displayOptions: showForFire,
		default: { mode: 'list', value: '' },
		description: 'The CRM record to fire the trigger for',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a record…',
				typeOptions: { searchListMethod: 'searchRecords', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. 5141',
				hint: 'The number in the record link, e.g. 5141 in …/crm/deal/details/5141/',
			},
			{
				displayName: 'By URL',
				name: 'url',
				type: 'string',
				placeholder: 'e.g. …/crm/deal/details/5141/',
				hint: 'The record link copied from Bitrix24 (quotes and invoices: …/crm/type/7/… and …/crm/type/31/…)',
			},
		],
	},
	{
		displayName: 'Trigger',
		name: 'triggerId',
		type: 'resourceLocator',
		required: true,
		displayOptions: showForFire,
		default: { mode: 'list', value: '' },
		description:
			'The trigger to fire. Picking it from the list needs an OAuth application key; with a personal key, choose "By Code" and type the trigger code.',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a trigger…',
				typeOptions: { searchListMethod: 'searchTriggers', searchable: true },
			},
			{
				// Workflows saved with the former name "id" run unchanged: the value is read the same way.
				displayName: 'By Code',
				name: 'code',
				type: 'string',
				placeholder: 'e.g. payment_received',
				hint: 'The trigger code (CODE in List Triggers), e.g. payment_received',
			},
		],
	},
];
