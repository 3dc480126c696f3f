import { ExecutionLifecycleHooks, WorkflowExecute } from 'n8n-core';
import {
	Workflow,
	type ICredentialDataDecryptedObject,
	type IConnections,
	type ICredentialType,
	type IDataObject,
	type INode,
	type INodeExecutionData,
	type INodeParameters,
	type INodeType,
	type INodeTypes,
	type IRun,
	type IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';

import { CredentialsHelper } from './credentialsHelper';
import { CREDENTIAL_TYPE, loadPackage, NODE_TYPE } from './loadPackage';
import { load } from './system';

/**
 * Major version of the n8n-core in use: 2 for `npx jest`, 1 under jest.n8n1.config.js, which
 * maps n8n-core and n8n-workflow to the 1.x packages (package.json resolves through it too).
 */
export const N8N_CORE_MAJOR = Number(load('n8n-core/package.json').version.split('.')[0]);

export type OnError = 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';

export interface RunOptions {
	parameters: INodeParameters;
	items?: IDataObject[];
	onError?: OnError;
	credentials: ICredentialDataDecryptedObject;
	/** More node settings, such as Retry On Fail (RETRY_ON_FAIL in ../helpers). */
	settings?: Partial<INode>;
	signal?: AbortSignal;
}

export interface RunResult {
	/** Items on the node's main output. */
	main: INodeExecutionData[];
	/** Items on the error output ("Continue (using error output)"). */
	errors: INodeExecutionData[];
	/** The error that stopped the workflow, if any. */
	error?: NonNullable<IRun['data']['resultData']['error']>;
	run: IRun;
}

export const VIBECODE_NODE = 'Bitrix24 Vibecode';
const SOURCE_NODE = 'Items';
const SOURCE_TYPE = 'harness.items';

/** Stands in for whatever precedes the node in a workflow: it outputs the test's items. */
const itemsNode: INodeType = {
	description: {
		displayName: 'Items',
		name: SOURCE_TYPE,
		group: ['input'],
		version: 1,
		description: 'Outputs fixed items',
		defaults: { name: SOURCE_NODE },
		inputs: ['main'],
		outputs: ['main'],
		properties: [{ displayName: 'Items', name: 'items', type: 'json', default: '[]' }],
	},
	async execute() {
		const items = JSON.parse(this.getNodeParameter('items', 0) as string) as IDataObject[];
		return [items.map((json) => ({ json }))];
	},
};

function nodeTypesOf(vibecode: INodeType, more: INodeType[]): INodeTypes {
	const byName: Record<string, INodeType> = { [NODE_TYPE]: vibecode, [SOURCE_TYPE]: itemsNode };
	for (const type of more) byName[type.description.name] = type;
	return {
		getByName: (name) => byName[name],
		getByNameAndVersion: (name) => byName[name],
		getKnownTypes: () => ({}),
	};
}

/**
 * n8n-core 1.x starts a referenced 60 s interval (SSHClientsManager's cleanup timer, a DI
 * singleton) the first time a node context is built, so jest never exits; 2.x unrefs it.
 * Building the singleton here first and unref'ing its timer keeps 1.x runs exiting.
 */
function unrefSshCleanupTimer(): void {
	if (N8N_CORE_MAJOR >= 2) return;
	const { Container } = load('@n8n/di', { beside: 'n8n-core' });
	const { SSHClientsManager } = load('n8n-core/dist/execution-engine/ssh-clients-manager');
	(Container.get(SSHClientsManager) as { cleanupTimer?: NodeJS.Timeout }).cleanupTimer?.unref();
}

/** What n8n's server hands the engine for a manual run, limited to what this package touches. */
export function additionalDataFor(
	workflow: Workflow,
	credentialType: ICredentialType,
	credentials: ICredentialDataDecryptedObject,
	credentialsById: Record<string, ICredentialDataDecryptedObject> = {},
): IWorkflowExecuteAdditionalData {
	unrefSshCleanupTimer();
	const hooks = new ExecutionLifecycleHooks('manual', 'test-execution', {
		id: 'test-workflow',
		name: 'test',
		active: false,
		isArchived: false,
		nodes: workflow.nodes ? Object.values(workflow.nodes) : [],
		connections: workflow.connectionsBySourceNode,
		createdAt: new Date(),
		updatedAt: new Date(),
		activeVersionId: null,
	} as never);
	return {
		credentialsHelper: new CredentialsHelper(credentialType, credentials, credentialsById),
		hooks,
		executionId: 'test-execution',
		currentNodeExecutionIndex: 0,
		restApiUrl: 'http://localhost:5678/rest',
		instanceBaseUrl: 'http://localhost:5678/',
		webhookBaseUrl: 'http://localhost:5678/webhook',
		webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
		webhookTestBaseUrl: 'http://localhost:5678/webhook-test',
		formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
		variables: {},
		executeWorkflow: async () => {
			throw new Error('not used');
		},
		setExecutionStatus: () => {},
		userId: 'test-user',
	} as unknown as IWorkflowExecuteAdditionalData;
}

/**
 * WorkflowExecute.run on either engine: n8n-core 2.x takes an options object, 1.x takes
 * run(workflow, startNode, destinationNode?, pinData?, …). Use it instead of calling run directly.
 */
export async function executeRun(
	workflowExecute: WorkflowExecute,
	workflow: Workflow,
	startNode: INode,
	signal?: AbortSignal,
): Promise<IRun> {
	type Run = Promise<IRun> & { cancel(): void };
	const runV1 = workflowExecute.run as unknown as (workflow: Workflow, startNode: INode) => Run;
	const running = (N8N_CORE_MAJOR >= 2 ? workflowExecute.run({ workflow, startNode }) : runV1.call(workflowExecute, workflow, startNode)) as Run;
	// What n8n's "Stop execution" does: cancel the run, which aborts the execution's signal.
	signal?.addEventListener('abort', () => running.cancel());
	return await running;
}

export async function runWorkflow(options: RunOptions): Promise<RunResult> {
	const vibecode: INode = {
		id: 'vibecode',
		name: VIBECODE_NODE,
		type: NODE_TYPE,
		typeVersion: 1,
		position: [200, 0],
		parameters: options.parameters,
		credentials: { [CREDENTIAL_TYPE]: { id: '1', name: 'Vibecode account' } },
		onError: options.onError ?? 'stopWorkflow',
		...options.settings,
	};
	const run = await runGraph({
		items: options.items,
		nodes: [vibecode],
		connections: { [SOURCE_NODE]: { main: [[{ node: VIBECODE_NODE, type: 'main', index: 0 }]] } },
		credentials: { '1': options.credentials },
		signal: options.signal,
	});
	const task = run.data.resultData.runData[VIBECODE_NODE]?.[0];
	const outputs = task?.data?.main ?? [];
	return {
		main: outputs[0] ?? [],
		errors: outputs[1] ?? [],
		error: run.data.resultData.error,
		run,
	};
}

export interface GraphOptions {
	/** What the start node ("Items") outputs. */
	items?: IDataObject[];
	/** The other nodes; a Vibecode node has type NODE_TYPE. */
	nodes: INode[];
	/** Connections, from "Items" on. */
	connections: IConnections;
	/** Credential data by credential id. */
	credentials: Record<string, ICredentialDataDecryptedObject>;
	/** Node types besides the Vibecode node and "Items". */
	types?: INodeType[];
	/** Aborting it stops the execution, as n8n's "Stop execution" does. */
	signal?: AbortSignal;
}

/** Runs a workflow that starts with the node "Items" and holds any nodes after it. */
export async function runGraph(options: GraphOptions): Promise<IRun> {
	const { nodeType, credentialType } = await loadPackage();
	const source: INode = {
		id: 'source',
		name: SOURCE_NODE,
		type: SOURCE_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: { items: JSON.stringify(options.items ?? [{}]) },
	};
	const workflow = new Workflow({
		id: 'test-workflow',
		nodes: [source, ...options.nodes],
		connections: options.connections,
		active: false,
		nodeTypes: nodeTypesOf(nodeType, options.types ?? []),
		settings: { executionOrder: 'v1' },
	});
	const [first] = Object.values(options.credentials);
	const additionalData = additionalDataFor(workflow, credentialType, first ?? {}, options.credentials);
	return await executeRun(new WorkflowExecute(additionalData, 'manual'), workflow, source, options.signal);
}
