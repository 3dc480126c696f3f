import type { IDataObject, IExecuteSingleFunctions, IHttpRequestOptions, INodeExecutionData, INodePropertyOptions } from 'n8n-workflow';

import { apiError, asNodeError, cancelledError } from '../../errors';
import { TurnCancelled } from '../../transport/pacer';
import { send } from '../../transport/request';
import { insteadOfRequest } from './routing';
import { itemRunSource, openRun, whileRunning } from './run';
import { failedItem } from './stages/answer';
import { TRIGGER_LIST } from './triggerList';

/** The request n8n built from the routing below, sent under the key's pace; one item per trigger. */
async function listTriggers(this: IExecuteSingleFunctions, request: IHttpRequestOptions): Promise<INodeExecutionData[]> {
	const itemIndex = this.getItemIndex();
	const source = itemRunSource(this);
	try {
		const run = await openRun(source);
		const sent = await whileRunning(run, async () => await send.call(this, run.reads.paced, request, run.reads.policy));
		if (sent.failure) throw apiError(this.getNode(), itemIndex, sent.failure, 'list');
		const triggers = Array.isArray(sent.body.data) ? (sent.body.data as IDataObject[]) : [];
		return triggers.map((json) => ({ json, pairedItem: { item: itemIndex } }));
	} catch (caught) {
		const error = caught instanceof TurnCancelled ? cancelledError(this.getNode(), itemIndex) : asNodeError(this.getNode(), itemIndex, caught);
		if (source.stopOnFailure) throw error;
		return [failedItem(itemIndex, error, { asTool: source.asTool, fields: {} })];
	}
}

export const listOperationOption: INodePropertyOptions = {
	name: 'List Triggers',
	value: 'list',
	action: 'List automation triggers',
	description:
		'List the automation triggers your Vibecode OAuth application registered on the portal (needs an application key and a session token)',
	routing: { request: { ...TRIGGER_LIST }, ...insteadOfRequest(listTriggers) },
};
