import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	IExecuteFunctions,
	IExecuteSingleFunctions,
	IGetNodeParameterOptions,
	IHttpRequestOptions,
	INode,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { readOptions, type Options } from '../../shared/options';
import { DEFAULT_PER_MINUTE, PACE_MARGIN, type Turn } from '../../transport/pacer';
import { baseUrlOf, CREDENTIAL_TYPE, pacerOf, send, type Paced, type RetryPolicy, type Sent } from '../../transport/request';

/** Reads, and fires whose user accepted a possible double run, get one more try. */
const AMBIGUOUS_RETRIES = 1;

/**
 * What an adapter hands a run: n8n's custom operation gives all items of a node run, a
 * routing hook the one item of an AI tool call. Nothing else differs between the two.
 */
export interface RunSource {
	context: IExecuteFunctions | IExecuteSingleFunctions;
	/** The input items the run answers for, by index. */
	itemIndices: number[];
	/** A node parameter as n8n resolves it for one item. */
	parameter(name: string, itemIndex: number, fallback?: unknown, options?: IGetNodeParameterOptions): unknown;
	/** What n8n hands every try of this run (Retry On Fail, an AI tool's retries): the at-most-once scope. */
	tries: object;
}

/** What the items of one node run (or one tool call) share, opened once. */
export interface Run extends RunSource {
	node: INode;
	credentials: ICredentialDataDecryptedObject;
	options: Options;
	/** The run's place in the key's pace; the run itself is whose turns they are. */
	paced: Paced;
	/** The request every request of the run starts from: base URL, headers, timeout, proxy, SSL. */
	defaults: IHttpRequestOptions;
	/** "On Error: Stop" (not as a tool): the first final failure ends the run and drops what is not sent yet. */
	stopOnFailure: boolean;
	/** The node runs as an AI agent's tool (n8n serves it as `…Tool`): a failure answers the model. */
	asTool: boolean;
	signal?: AbortSignal;
	/** Drops every request of the run that has not started. */
	stop(): void;
	/** The run was stopped (On Error: Stop, or the execution was cancelled): nothing more is sent. */
	stopped: boolean;
}

/**
 * The request defaults n8n's declarative engine builds from the node's requestDefaults and its
 * "requestOptions" setting (timeout, proxy, SSL), for the requests the node sends itself.
 */
function requestDefaultsOf(settings: IDataObject, credentials: IDataObject): IHttpRequestOptions {
	const request: IHttpRequestOptions = {
		url: '',
		baseURL: baseUrlOf(credentials),
		headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
		timeout: Number(settings.timeout) || 300_000,
		skipSslCertificateValidation: settings.allowUnauthorizedCerts === true,
	};
	if (typeof settings.proxy === 'string' && settings.proxy) {
		const proxy = new URL(settings.proxy);
		request.proxy = {
			host: proxy.hostname,
			port: Number(proxy.port),
			protocol: proxy.protocol.replace(/:$/, ''),
			...(proxy.username && { auth: { username: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } }),
		};
	}
	return request;
}

/** How a run answers a failure: as an AI tool, to the model; otherwise by On Error. */
export function answerMode(context: RunSource['context']) {
	const asTool = context.getNode().type.endsWith('Tool');
	return { asTool, stopOnFailure: !asTool && !context.continueOnFail() };
}

/** Opens a run: options checked, credentials read, its place in the key's pace, stop and cancel wired. */
export async function openRun(source: RunSource): Promise<Run> {
	const { context, parameter } = source;
	const node = context.getNode();
	const first = source.itemIndices[0] ?? 0;
	const options = readOptions(node, first, parameter('options', first, {}));
	const credentials = await context.getCredentials(CREDENTIAL_TYPE);
	const pacer = pacerOf(credentials);
	const run = {
		...source,
		node,
		credentials,
		options,
		defaults: requestDefaultsOf(parameter('requestOptions', first, {}) as IDataObject, credentials),
		...answerMode(context),
		signal: context.getExecutionCancelSignal(),
		stopped: false,
		stop: () => {
			run.stopped = true;
			pacer.cancel(run);
		},
	} as Run;
	run.paced = { pacer, turn: turnOf(options, run), onFinalFailure: run.stopOnFailure ? run.stop : undefined };
	return run;
}

/**
 * An owner's turn at the options' pace: "Requests per Minute" is a cap on the key's own limit
 * (unset: the key's limit, assumed to be Vibecode's default until an answer tells it), "Max
 * Concurrent Requests" in flight.
 */
export function turnOf(options: Options, owner: object): Turn {
	const perMinute = options.requestsPerMinute ?? DEFAULT_PER_MINUTE;
	return { intervalMs: (60_000 / perMinute) * PACE_MARGIN, capped: options.requestsPerMinute !== undefined, maxInFlight: options.maxConcurrent, owner };
}

/** Which failures a request of the run may be resent after: a fire only where the user accepted it. */
export function retryPolicy(options: Options, { write }: { write: boolean }): RetryPolicy {
	return {
		rateLimitRetries: options.maxRateLimitRetries,
		maxRateLimitWaitSeconds: options.maxRateLimitWaitSeconds,
		ambiguousRetries: !write || options.retryAmbiguousFires ? AMBIGUOUS_RETRIES : 0,
	};
}

/**
 * A read a check of the run makes before the fires (the trigger list, a record search): under
 * the key's pace but without the run's stop, since a check that cannot read skips, it stops
 * nothing. Undefined when the run was cancelled first.
 */
export async function checkRead(run: Run, request: IHttpRequestOptions): Promise<Sent | undefined> {
	const paced = { pacer: run.paced.pacer, turn: run.paced.turn };
	try {
		return await send.call(run.context, paced, { ...run.defaults, ...request }, retryPolicy(run.options, { write: false }));
	} catch {
		return undefined;
	}
}

/** Runs `work` with the execution's cancel signal dropping the run's unsent requests. */
export async function whileRunning<T>(run: Run, work: () => Promise<T>): Promise<T> {
	run.signal?.addEventListener('abort', run.stop);
	try {
		return await work();
	} finally {
		run.signal?.removeEventListener('abort', run.stop);
	}
}

/** A node run in n8n's custom operation: all its items, each try with the same execute data. */
export function nodeRunSource(context: IExecuteFunctions): RunSource {
	return {
		context,
		itemIndices: context.getInputData().map((_, itemIndex) => itemIndex),
		parameter: (name, itemIndex, fallback, options) => context.getNodeParameter(name, itemIndex, fallback, options),
		tries: context.getExecuteData(),
	};
}

/**
 * One item in n8n's declarative engine, where each item is a run of its own. An AI tool call's
 * arguments are one object for all of that call's tries; an item of the main input is the same
 * object on every try of its node run.
 */
export function itemRunSource(context: IExecuteSingleFunctions): RunSource {
	const toolCall = context.getInputData(0, NodeConnectionTypes.AiTool).json;
	return {
		context,
		itemIndices: [context.getItemIndex()],
		parameter: (name, _itemIndex, fallback, options) => context.getNodeParameter(name, fallback, options),
		tries: Object.keys(toolCall).length > 0 ? toolCall : context.getInputData().json,
	};
}
