import { WorkflowExecute } from 'n8n-core';
import {
	NodeConnectionTypes,
	Workflow,
	type EngineRequest,
	type EngineResponse,
	type ICredentialDataDecryptedObject,
	type IDataObject,
	type IExecuteFunctions,
	type INode,
	type INodeParameters,
	type INodeType,
	type IRun,
} from 'n8n-workflow';

import { CREDENTIAL_TYPE, loadPackage, NODE_TYPE } from '../harness/loadPackage';
import { additionalDataFor, N8N_CORE_MAJOR } from '../harness/runWorkflow';
import { asTool } from '../harness/served';

/** What an agent gets from getInputConnectionData for a node tool (a LangChain DynamicStructuredTool). */
interface NodeTool {
	name: string;
	metadata?: { sourceNodeName?: string };
	invoke(args: unknown): Promise<unknown>;
}

/**
 * How an AI agent calls the tool:
 * - 'engine': the AI Agent node (v3) of n8n 2.x hands the model's tool calls to the workflow
 *   engine as an EngineRequest; the engine runs the tool node with the model's arguments as its
 *   ai_tool input, unchecked, and resumes the agent with the results.
 * - 'invoke': older agents and the MCP Server Trigger call the LangChain tool that n8n-core's
 *   createNodeAsTool builds, which checks the arguments against the $fromAI schema first.
 */
export type ToolPath = 'engine' | 'invoke';

/** n8n-core 1.x tools carry no sourceNodeName, so its agents can only invoke them. */
export const TOOL_PATHS: ToolPath[] = N8N_CORE_MAJOR >= 2 ? ['engine', 'invoke'] : ['invoke'];

export interface ToolCallResult {
	/** The node's output items as the agent sees them. */
	items?: IDataObject[];
	/** The error message the agent sees instead. */
	error?: string;
}

const AGENT = 'AI Agent';
const TOOL = 'Bitrix24 Vibecode';
const START = 'Start';

/** Stands in for the model: makes the given tool calls, by the chosen path, and outputs what came back. */
const agentType: INodeType = {
	description: {
		displayName: 'AI Agent',
		name: 'harness.agent',
		group: ['transform'],
		version: 1,
		description: 'Calls its tool with fixed arguments',
		defaults: { name: AGENT },
		inputs: [NodeConnectionTypes.Main, { type: NodeConnectionTypes.AiTool, displayName: 'Tools', required: true }],
		outputs: [NodeConnectionTypes.Main],
		properties: [
			{ displayName: 'Calls', name: 'calls', type: 'json', default: '[]' },
			{ displayName: 'Path', name: 'path', type: 'string', default: 'engine' },
		],
	},
	async execute(this: IExecuteFunctions, response?: EngineResponse) {
		// A call is the model's arguments, or { tool: n, args } for the n-th tool connected.
		const calls = (JSON.parse(this.getNodeParameter('calls', 0) as string) as IDataObject[]).map((call) =>
			typeof call.tool === 'number' ? { tool: call.tool, args: call.args as IDataObject } : { tool: 0, args: call },
		);
		const tools = (await this.getInputConnectionData(NodeConnectionTypes.AiTool, 0)) as NodeTool[] | NodeTool;
		const toolAt = (index: number) => (Array.isArray(tools) ? tools : [tools])[index];
		if (this.getNodeParameter('path', 0) === 'invoke') {
			const results: ToolCallResult[] = [];
			for (const { tool, args } of calls) {
				try {
					results.push({ items: JSON.parse((await toolAt(tool).invoke(args)) as string) as IDataObject[] });
				} catch (error) {
					results.push({ error: (error as Error).message });
				}
			}
			return [results.map((json) => ({ json: json as IDataObject }))];
		}
		// The engine passes an empty response on the first call, the tools' results on the resumed one.
		if (!response?.actionResponses.length) {
			const request: EngineRequest = {
				actions: calls.map(({ tool, args: input }, index) => ({
					actionType: 'ExecutionNodeAction' as const,
					nodeName: toolAt(tool).metadata?.sourceNodeName as string,
					input,
					type: NodeConnectionTypes.AiTool,
					id: `call_${index}`,
					metadata: { itemIndex: 0 },
				})),
				metadata: {},
			};
			return request;
		}
		// As the agent's buildSteps reads them: the tool's ai_tool output, else its error.
		const byId = new Map(response.actionResponses.map(({ action, data }) => [action.id, data]));
		return [
			calls.map((_, index) => {
				const data = byId.get(`call_${index}`);
				const items = data?.data?.[NodeConnectionTypes.AiTool]?.[0]?.map((item) => item.json) ?? [];
				// A failed tool run: the engine puts { error: message } in place of the output.
				const failed = data?.error ? { error: data.error.message } : undefined;
				return { json: (failed ?? { items }) as IDataObject };
			}),
		];
	},
};

const startType: INodeType = {
	description: {
		displayName: 'Start',
		name: 'harness.start',
		group: ['input'],
		version: 1,
		description: 'Outputs one empty item',
		defaults: { name: START },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	},
	async execute() {
		return [[{ json: {} }]];
	},
};

export interface ToolNode {
	parameters: INodeParameters;
	credentials: ICredentialDataDecryptedObject;
	/** More node settings, such as Retry On Fail. */
	settings?: Partial<INode>;
}

/** One run of a workflow Start → AI Agent, with the node as the agent's tool; one result per call. */
export async function callAsTool(options: {
	parameters: INodeParameters;
	calls: IDataObject[];
	path: ToolPath;
	credentials: ICredentialDataDecryptedObject;
	settings?: Partial<INode>;
}): Promise<{ results: ToolCallResult[]; run: IRun }> {
	const { parameters, credentials, settings, ...rest } = options;
	return await callTools({ ...rest, tools: [{ parameters, credentials, settings }] });
}

/** The same with several Vibecode tool nodes, each with its own credential; a call may name its tool ({ tool: n, args }). */
export async function callTools(options: {
	tools: ToolNode[];
	calls: IDataObject[];
	path: ToolPath;
}): Promise<{ results: ToolCallResult[]; run: IRun }> {
	const { nodeType, credentialType } = await loadPackage();
	const tool = asTool(nodeType);
	const types: Record<string, INodeType> = {
		[`${NODE_TYPE}Tool`]: tool,
		[agentType.description.name]: agentType,
		[startType.description.name]: startType,
	};
	const node = (name: string, type: string, parameters: INodeParameters, extra: Partial<INode> = {}): INode => ({
		id: name,
		name,
		type,
		typeVersion: 1,
		position: [0, 0],
		parameters,
		...extra,
	});
	const toolName = (index: number) => (index === 0 ? TOOL : `${TOOL} ${index + 1}`);
	const workflow = new Workflow({
		id: 'test-workflow',
		nodes: [
			node(START, startType.description.name, {}),
			node(AGENT, agentType.description.name, { calls: JSON.stringify(options.calls), path: options.path }),
			...options.tools.map((t, index) =>
				node(toolName(index), `${NODE_TYPE}Tool`, t.parameters, {
					credentials: { [CREDENTIAL_TYPE]: { id: String(index + 1), name: `Vibecode account ${index + 1}` } },
					...t.settings,
				}),
			),
		],
		connections: {
			[START]: { main: [[{ node: AGENT, type: NodeConnectionTypes.Main, index: 0 }]] },
			...Object.fromEntries(
				options.tools.map((_, index) => [
					toolName(index),
					{ ai_tool: [[{ node: AGENT, type: NodeConnectionTypes.AiTool, index: 0 }]] },
				]),
			),
		},
		active: false,
		nodeTypes: {
			getByName: (name) => types[name],
			getByNameAndVersion: (name) => types[name],
			getKnownTypes: () => ({}),
		},
		settings: { executionOrder: 'v1' },
	});
	const byId = Object.fromEntries(options.tools.map((t, index) => [String(index + 1), t.credentials]));
	const additionalData = additionalDataFor(workflow, credentialType, options.tools[0].credentials, byId);
	const workflowExecute = new WorkflowExecute(additionalData, 'manual');
	const startNode = workflow.getNode(START) as INode;
	const run = await (N8N_CORE_MAJOR >= 2
		? workflowExecute.run({ workflow, startNode })
		: (workflowExecute.run as unknown as (workflow: Workflow, startNode: INode) => Promise<IRun>)(workflow, startNode));
	if (run.data.resultData.error) throw new Error(`the agent's run failed: ${run.data.resultData.error.message}`);
	const output = run.data.resultData.runData[AGENT]?.at(-1)?.data?.main?.[0] ?? [];
	return { results: output.map((item) => item.json as ToolCallResult), run };
}
