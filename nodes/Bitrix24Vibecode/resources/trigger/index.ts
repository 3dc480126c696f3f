import type { INodeProperties } from 'n8n-workflow';

import { optionsDescription } from '../../options';
import { fireFields, fireOperationOption } from './fire';
import { listOperationOption } from './list';

export const triggerDescription: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['trigger'] } },
		options: [fireOperationOption, listOperationOption],
		default: 'fire',
	},
	...fireFields,
	optionsDescription,
];
