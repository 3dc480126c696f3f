import type { IDataObject, INodePropertyOptions } from 'n8n-workflow';

import { runItem } from '../../transport/itemRunner';

export const listOperation: INodePropertyOptions = {
	name: 'List Triggers',
	value: 'list',
	action: 'List automation triggers',
	description:
		'List the automation triggers your Vibecode OAuth application registered on the portal (needs an application key and a session token)',
	routing: {
		request: { method: 'GET', url: '/v1/triggers' },
		send: { paginate: true },
		operations: {
			pagination: runItem({
				operation: 'list',
				toItems: (body) => (Array.isArray(body.data) ? (body.data as IDataObject[]) : []),
			}),
		},
	},
};
