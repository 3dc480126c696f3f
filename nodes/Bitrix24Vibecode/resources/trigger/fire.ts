import type { IDataObject, INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import { runItem } from '../../transport/itemRunner';
import { ENTITY_LABELS } from './entityTypes';
import { checkFireInput } from './fireInput';

const showForFire = { show: { resource: ['trigger'], operation: ['fire'] } };

export const fireOperation: INodePropertyOptions = {
	name: 'Fire Trigger',
	value: 'fire',
	action: 'Fire an automation trigger for a CRM record',
	description: 'Make Bitrix24 run the automation rules that listen to a trigger, for one CRM record',
	routing: {
		request: { method: 'POST', url: '/v1/triggers/fire' },
		send: { paginate: true },
		operations: {
			pagination: runItem({
				operation: 'fire',
				prepare(request, itemIndex) {
					const mode = this.getNodeParameter('entityId.mode', 'id') as string;
					const input = checkFireInput(this.getNode(), itemIndex, request.body as IDataObject, mode);
					return { ...input };
				},
				toItems: (_body, fields) => [{ success: true, ...fields }],
			}),
		},
	},
};

export const fireFields: INodeProperties[] = [
	{
		displayName: 'Entity Type',
		name: 'entityType',
		type: 'options',
		required: true,
		displayOptions: showForFire,
		options: Object.entries(ENTITY_LABELS).map(([value, name]) => ({ name, value })),
		default: 'deal',
		description: 'The kind of CRM record the trigger is fired for',
		routing: { send: { type: 'body', property: 'entityType' } },
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
		routing: { send: { type: 'body', property: 'entityId' } },
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
		routing: { send: { type: 'body', property: 'triggerId' } },
	},
];
