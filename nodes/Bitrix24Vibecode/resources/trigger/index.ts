import type { INodeProperties } from 'n8n-workflow';

import { pacingOptions } from '../../shared/pacingOptions';
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
	pacingOptions,
];
