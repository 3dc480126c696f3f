import type {
	DeclarativeRestApiSettings,
	IExecutePaginationFunctions,
	IExecuteSingleFunctions,
	IHttpRequestOptions,
	INodeExecutionData,
	INodePropertyRouting,
} from 'n8n-workflow';

type Handler = (this: IExecuteSingleFunctions, request: IHttpRequestOptions) => Promise<INodeExecutionData[]>;

/**
 * Routing that hands each item's request to `handler` instead of sending it. n8n's declarative
 * engine sends every item's request at once and unpaced; its one hook that runs in place of
 * that request is `operations.pagination` given as a function, switched on by `send.paginate`.
 * Here it sends exactly one request per item, never pages: the request must wait for the key's
 * pace (and a fire pass the at-most-once ledger), which the hooks before and after a request
 * (preSend, postReceive) cannot do.
 */
export function insteadOfRequest(handler: Handler): INodePropertyRouting {
	return {
		send: { paginate: true },
		operations: {
			async pagination(this: IExecutePaginationFunctions, requestData: DeclarativeRestApiSettings.ResultOptions) {
				return await handler.call(this, requestData.options as IHttpRequestOptions);
			},
		},
	};
}
