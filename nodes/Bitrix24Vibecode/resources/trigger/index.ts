import type { INodeProperties } from 'n8n-workflow';

import { optionsDescription } from '../../shared/options';
import { fireFields, fireOperation } from './fire';
import { listOperation } from './list';

export const triggerDescription: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['trigger'] } },
		options: [fireOperation, listOperation],
		default: 'fire',
	},
	...fireFields,
	optionsDescription,
];
