import type {
	DeclarativeRestApiSettings,
	IDataObject,
	IExecuteFunctions,
	IExecutePaginationFunctions,
	IExecuteSingleFunctions,
	IHttpRequestOptions,
	INodeExecutionData,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import { canListTriggers, checkTriggerCode, registeredTriggers } from '../resources/trigger/triggerCodes';
import { readOptions, type Options } from '../shared/options';
import { toNodeApiError, type Operation, type VibecodeFailure } from './errors';
import { atMostOnce, fireKey } from './ledger';
import { TurnCancelled, type Pacer } from './pacer';
import { CREDENTIAL_TYPE, pacerOf, sendPaced, type Sent } from './request';

/** What the items of one node run share. */
export interface NodeRun {
	pacer: Pacer;
	options: Options;
	/** The run's place in the key's pace; cancelling it drops its waiting items. */
	turns: object;
	/** What n8n hands every try of the same run (Retry On Fail, an AI tool's retries): the ledger's scope. */
	tries: object;
	onFailure?: (itemIndex: number, failure: VibecodeFailure) => void;
}

export interface ItemRequest {
	operation: Operation;
	request: IHttpRequestOptions;
	itemIndex: number;
	/** What is sent, as the output item repeats it. */
	fields: IDataObject;
}

type Context = IExecuteFunctions | IExecuteSingleFunctions;

/** Sends one item's request; a fire goes through the at-most-once ledger of its node run. */
export async function sendItem(this: Context, run: NodeRun, item: ItemRequest): Promise<Sent> {
	const send = async () =>
		await sendPaced.call(this, {
			pacer: run.pacer,
			request: item.request,
			operation: item.operation,
			options: run.options,
			run: run.turns,
			onFailure: run.onFailure && ((failure) => run.onFailure?.(item.itemIndex, failure)),
		});
	if (item.operation !== 'fire') return await send();
	return await atMostOnce(run.tries, fireKey(this.getNode().name, item.itemIndex, item.fields), send);
}

/**
 * A failed item is { error: {…} }, the continue-on-fail shape of n8n's HTTP Request node.
 * n8n (1.x and 2.x) routes an item whose only key is `error` to the error output and adds the
 * input item's fields there. An item with an `error` property outside json would be cut down
 * to { error: message } by the engine, losing the code, the hint and the record.
 */
export function errorItem(error: Error, fields: IDataObject, itemIndex: number): INodeExecutionData {
	const api = error instanceof NodeApiError ? error : undefined;
	const response = (api?.errorResponse ?? {}) as IDataObject;
	const httpCode = Number(api?.httpCode);
	const description = (error as { description?: string | null }).description ?? undefined;
	return {
		json: {
			error: {
				message: error.message,
				description,
				code: (response.code as string | undefined) ?? (api ? 'UNKNOWN_FAILURE' : 'INVALID_PARAMETER'),
				httpCode: Number.isInteger(httpCode) ? httpCode : null,
				hint: (response.hint as string | undefined) ?? description,
				...fields,
			},
		},
		pairedItem: { item: itemIndex },
	};
}

export const cancelledError = (context: Context, itemIndex: number) =>
	new NodeOperationError(context.getNode(), 'Not sent: the execution was cancelled', {
		itemIndex,
		description: 'The run was stopped before this item was due, so nothing was sent for it.',
	});

export interface OperationHandler {
	operation: Operation;
	/** Checks and completes the request built from the parameters; throws NodeOperationError. */
	prepare?: (this: IExecuteSingleFunctions, request: IHttpRequestOptions, itemIndex: number) => IDataObject;
	/** Turns a successful answer into output items. */
	toItems: (body: IDataObject, fields: IDataObject) => IDataObject[];
}

/**
 * The request wrapper of an operation run by n8n's declarative engine (List Triggers, and
 * Fire Trigger as an AI tool). The pagination function is the one declarative hook that wraps
 * the request itself; each item is a run of its own here, as a tool call is.
 */
export function runItem(handler: OperationHandler) {
	return async function (
		this: IExecutePaginationFunctions,
		requestData: DeclarativeRestApiSettings.ResultOptions,
	): Promise<INodeExecutionData[]> {
		const itemIndex = this.getItemIndex();
		const request = requestData.options as IHttpRequestOptions;
		let fields = { ...((request.body as IDataObject | undefined) ?? {}) };
		try {
			const options = readOptions(this.getNode(), this.getNodeParameter('options', {}), itemIndex);
			if (handler.prepare) {
				fields = handler.prepare.call(this, request, itemIndex);
				request.body = fields;
			}
			const turns = {};
			const credentials = await this.getCredentials(CREDENTIAL_TYPE);
			const pacer = pacerOf(credentials);
			// An AI tool call's arguments are one object for all of that call's tries; an item of
			// the main input is the same object on every try of its node run.
			const toolCall = this.getInputData(0, NodeConnectionTypes.AiTool).json;
			const tries = Object.keys(toolCall).length > 0 ? toolCall : this.getInputData().json;
			const signal = this.getExecutionCancelSignal();
			const cancel = () => pacer.cancel(turns);
			signal?.addEventListener('abort', cancel);
			let sent: Sent;
			try {
				const check = handler.operation === 'fire' && options.checkTriggerCodes && canListTriggers(credentials);
				if (check && !signal?.aborted) {
					// One trigger list per tool call; without a list (any failure) the fire goes unchecked.
					const registered = await registeredTriggers.call(this, { pacer, options, run: turns, base: request });
					if (registered) checkTriggerCode(this.getNode(), itemIndex, String(fields.triggerId), registered);
				}
				if (signal?.aborted) throw new TurnCancelled();
				const run = { pacer, options, turns, tries };
				sent = await sendItem.call(this, run, { operation: handler.operation, request, itemIndex, fields });
			} catch (error) {
				throw error instanceof TurnCancelled ? cancelledError(this, itemIndex) : error;
			} finally {
				signal?.removeEventListener('abort', cancel);
			}
			if (sent.failure) throw toNodeApiError(this.getNode(), sent.failure, handler.operation, itemIndex);
			return handler.toItems(sent.body, fields).map((json) => ({ json, pairedItem: { item: itemIndex } }));
		} catch (error) {
			if (!this.continueOnFail()) {
				// Only n8n's errors leave the node (what n8n's RoutingNode does with its own).
				throw error instanceof NodeApiError || error instanceof NodeOperationError
					? error
					: new NodeOperationError(this.getNode(), error as Error, { itemIndex });
			}
			return [errorItem(error as Error, fields, itemIndex)];
		}
	};
}
