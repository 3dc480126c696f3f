import type {
	DeclarativeRestApiSettings,
	IDataObject,
	IExecutePaginationFunctions,
	IExecuteSingleFunctions,
	IHttpRequestOptions,
	INodeExecutionData,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import type { Operation } from './errors';
import type { Pacer } from './pacer';
import { CREDENTIAL_TYPE, DEFAULT_PACING, pacerOf, sendPaced, type Pacing } from './request';

export interface OperationHandler {
	operation: Operation;
	/** Checks and completes the request built from the parameters; throws NodeOperationError. */
	prepare?: (this: IExecuteSingleFunctions, request: IHttpRequestOptions, itemIndex: number) => IDataObject;
	/** Turns a successful answer into output items. */
	toItems: (body: IDataObject, fields: IDataObject) => IDataObject[];
}

interface NodeRun {
	/** Lowest index of an item that stopped the run ("On Error: Stop"); later items stay unsent. */
	stoppedAt: number;
	/** One lookup per run; awaiting one promise also keeps the items' queue order. */
	pacer: Promise<Pacer>;
}

// Keyed by the run's execute data, one object shared by all items of a node run.
const runs = new WeakMap<object, NodeRun>();

function runOf(context: IExecuteSingleFunctions): NodeRun {
	const key = context.getExecuteData();
	let run = runs.get(key);
	if (!run) {
		run = { stoppedAt: Infinity, pacer: context.getCredentials(CREDENTIAL_TYPE).then(pacerOf) };
		runs.set(key, run);
	}
	return run;
}

function pacingOf(context: IExecuteSingleFunctions): Pacing {
	const options = context.getNodeParameter('options', {}) as Partial<Pacing>;
	return { ...DEFAULT_PACING, ...options };
}

/**
 * A failed item is { error: {…} }, the continue-on-fail shape of n8n's HTTP Request node.
 * n8n (1.x and 2.x) routes an item whose only key is `error` to the error output and adds the
 * input item's fields there. An item with an `error` property outside json would be cut down
 * to { error: message } by the engine, losing the code, the hint and the record.
 */
function errorItem(error: Error, fields: IDataObject, itemIndex: number): INodeExecutionData {
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

/**
 * The request wrapper of an operation. n8n's declarative engine offers one hook that wraps
 * the request itself, the pagination function; it is used here to pace, retry and shape
 * every item's outcome, so that each input item ends as exactly one output or error item.
 */
export function runItem(handler: OperationHandler) {
	return async function (
		this: IExecutePaginationFunctions,
		requestData: DeclarativeRestApiSettings.ResultOptions,
	): Promise<INodeExecutionData[]> {
		const itemIndex = this.getItemIndex();
		const run = runOf(this);
		const request = requestData.options as IHttpRequestOptions;
		let fields = { ...((request.body as IDataObject | undefined) ?? {}) };
		try {
			if (handler.prepare) {
				fields = handler.prepare.call(this, request, itemIndex);
				request.body = fields;
			}
			// n8n (up to 2.41 at least) gives declarative nodes no cancel signal; honoured when it does.
			const signal = this.getExecutionCancelSignal();
			const pacer = await run.pacer;
			const body = await sendPaced.call(
				this,
				pacer,
				request,
				handler.operation,
				pacingOf(this),
				itemIndex,
				{ run, isCancelled: () => run.stoppedAt < itemIndex || signal?.aborted === true },
			);
			return handler.toItems(body, fields).map((json) => ({ json, pairedItem: { item: itemIndex } }));
		} catch (error) {
			if (!this.continueOnFail()) {
				run.stoppedAt = Math.min(run.stoppedAt, itemIndex);
				// Only n8n's errors leave the node (what n8n's RoutingNode does with its own).
				throw error instanceof NodeApiError || error instanceof NodeOperationError
					? error
					: new NodeOperationError(this.getNode(), error as Error, { itemIndex });
			}
			return [errorItem(error as Error, fields, itemIndex)];
		}
	};
}
