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
import { DEFAULT_PACING, sendPaced, type Pacing } from './request';

export interface OperationHandler {
	operation: Operation;
	/** Checks and completes the request built from the parameters; throws NodeOperationError. */
	prepare?: (this: IExecuteSingleFunctions, request: IHttpRequestOptions, itemIndex: number) => IDataObject;
	/** Turns a successful answer into output items. */
	toItems: (body: IDataObject, fields: IDataObject) => IDataObject[];
}

/** One node run's shared state: once an item stops the run, the items not yet sent stay unsent. */
const runs = new WeakMap<object, { stopped: boolean }>();

function runOf(context: IExecuteSingleFunctions) {
	const key = context.getExecuteData();
	let run = runs.get(key);
	if (!run) {
		run = { stopped: false };
		runs.set(key, run);
	}
	return run;
}

function pacingOf(context: IExecuteSingleFunctions): Pacing {
	const options = context.getNodeParameter('options', {}) as Partial<Pacing>;
	return { ...DEFAULT_PACING, ...options };
}

function errorItem(error: Error, fields: IDataObject, itemIndex: number): INodeExecutionData {
	const api = error instanceof NodeApiError ? error : undefined;
	const response = (api?.errorResponse ?? {}) as IDataObject;
	const httpCode = Number(api?.httpCode);
	const description = (error as NodeApiError | NodeOperationError).description ?? undefined;
	return {
		json: {
			error: error.message,
			description,
			code: (response.code as string | undefined) ?? (api ? 'UNKNOWN_FAILURE' : 'INVALID_PARAMETER'),
			httpCode: Number.isInteger(httpCode) ? httpCode : null,
			hint: (response.hint as string | undefined) ?? description,
			...fields,
		},
		error: api ?? (error as NodeOperationError),
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
			const signal = this.getExecutionCancelSignal();
			const body = await sendPaced.call(
				this,
				request,
				handler.operation,
				pacingOf(this),
				itemIndex,
				() => run.stopped || signal?.aborted === true,
			);
			return handler.toItems(body, fields).map((json) => ({ json, pairedItem: { item: itemIndex } }));
		} catch (error) {
			if (!this.continueOnFail()) {
				run.stopped = true;
				throw error;
			}
			return [errorItem(error as Error, fields, itemIndex)];
		}
	};
}
