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

import type { Registered } from '../../shared/closest';
import { logLabel } from './notices';
import { readOptions, type Options } from '../../options';
import { requestDefaultsOf } from '../../transport/defaults';
import { retryPolicy, turnOf } from '../../transport/policy';
import { CREDENTIAL_TYPE, pacerOf, type Paced, type RetryPolicy } from '../../transport/request';
import { cancelled, unsettled, type Item } from './item';

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
	/** The node runs as an AI agent's tool (n8n serves it as `…Tool`): a failure answers the model. */
	asTool: boolean;
	/** "On Error: Stop" (not as a tool): the first final failure ends the run and drops what is not sent yet. */
	stopOnFailure: boolean;
}

/** How the run's requests of one kind go: where they wait for the key's pace, and what they are resent after. */
interface Sending {
	paced: Paced;
	policy: RetryPolicy;
}

/** Fire Once Across Executions: the run's claims of its items' keys in n8n's store (./fireOnce/claiming.ts). */
export interface Claims {
	/** Claims the item's key in its turn: true when the item is to be fired; otherwise the item has its outcome. */
	take(item: Item): Promise<boolean>;
	/** The item's fire has its outcome: it is recorded with others' in one write. */
	answered(item: Item): void;
	/** Once every item is answered: the last outcomes recorded. */
	close(): Promise<void>;
}

/** What the items of one node run (or one tool call) share: the run's state, opened once. */
export interface Run extends RunSource {
	node: INode;
	credentials: ICredentialDataDecryptedObject;
	options: Options;
	/** The request every request of the run starts from: base URL, headers, timeout, proxy, SSL. */
	defaults: IHttpRequestOptions;
	/** Fires: the run's turns, stopped by a final failure in "Stop" mode; resent only where the user accepted it. */
	fires: Sending;
	/** The checks' reads: the same turns, without the stop, since a check that cannot read stops nothing. */
	reads: Sending;
	signal?: AbortSignal;
	/** The run was stopped (On Error: Stop, or the execution was cancelled): nothing more is sent. */
	stopped: boolean;
	/** The application's triggers, as the code check read them: a refused code names them. */
	registered?: Registered[];
	/** Fire Once Across Executions: the run's claims in n8n's store, opened by the claim stage. */
	claims?: Claims;
	/** Who the run is in n8n's log: the node, its workflow, the execution. */
	label: string;
	/** A long run's progress in n8n's log (./stages/progress.ts): when it began, its last line, when its fires were answered lately. */
	progress: { startedAt: number; lineAt: number; answeredAt: number[] };
}

/** How a run answers a failure: as an AI tool, to the model; otherwise by On Error. */
function answerMode(context: RunSource['context']) {
	const asTool = context.getNode().type.endsWith('Tool');
	return { asTool, stopOnFailure: !asTool && !context.continueOnFail() };
}

/** Stops the run: every request of it that has not started is dropped. */
export function stopRun(run: Run) {
	run.stopped = true;
	run.fires.paced.pacer.cancel(run);
}

/** Opens a run: options checked, credentials read, its turns in the key's pace. */
export async function openRun(source: RunSource): Promise<Run> {
	const { context, parameter } = source;
	const node = context.getNode();
	const first = source.itemIndices[0] ?? 0;
	const options = readOptions(node, first, parameter('options', first, {}));
	const credentials = await context.getCredentials(CREDENTIAL_TYPE);
	const run = { ...source, node, credentials, options, signal: context.getExecutionCancelSignal(), stopped: false } as Run;
	run.defaults = requestDefaultsOf(parameter('requestOptions', first, {}) as IDataObject, credentials);
	// The run itself is whose turns they are: stopping it drops them all.
	const paced = { pacer: pacerOf(credentials), turn: turnOf(options, run) };
	run.fires = { paced: { ...paced, onFinalFailure: source.stopOnFailure ? () => stopRun(run) : undefined }, policy: retryPolicy(options, { write: true }) };
	run.reads = { paced, policy: retryPolicy(options, { write: false }) };
	run.label = logLabel({ node: node.name, workflow: context.getWorkflow().name ?? String(context.getWorkflow().id), execution: context.getExecutionId() });
	const now = paced.pacer.clock.now();
	run.progress = { startedAt: now, lineAt: now, answeredAt: [] };
	return run;
}

/**
 * The one stop check between stages, for "On Error: Stop": once an item has failed, the run
 * stops; nothing more is looked up, claimed or sent, and the items still waiting are not sent.
 */
export function stopsHere(run: Run, items: Item[]): boolean {
	if (!run.stopOnFailure || !items.some(({ outcome }) => outcome?.error)) return false;
	stopRun(run);
	for (const item of unsettled(items)) item.outcome = cancelled(run.node, item.itemIndex);
	return true;
}

/** Runs `work` with the execution's cancel signal stopping the run. */
export async function whileRunning<T>(run: Run, work: () => Promise<T>): Promise<T> {
	const stop = () => stopRun(run);
	run.signal?.addEventListener('abort', stop);
	try {
		return await work();
	} finally {
		run.signal?.removeEventListener('abort', stop);
	}
}

/** A node run in n8n's custom operation: all its items, each try with the same execute data. */
export function nodeRunSource(context: IExecuteFunctions): RunSource {
	return {
		context,
		itemIndices: context.getInputData().map((_, itemIndex) => itemIndex),
		parameter: (name, itemIndex, fallback, options) => context.getNodeParameter(name, itemIndex, fallback, options),
		tries: context.getExecuteData(),
		...answerMode(context),
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
		...answerMode(context),
	};
}
