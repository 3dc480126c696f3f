import { RoutingNode, type ExecuteContext } from 'n8n-core';
import { NodeConnectionTypes, type INodeType, type INodeTypeDescription } from 'n8n-workflow';

/**
 * The node as n8n's server serves it. A server-side model (packages/cli, not a library),
 * following n8n's `NodeTypes.getByNameAndVersion` (packages/cli/src/node-types.ts):
 * - where `shouldAssignExecuteMethod` (packages/cli/src/utils.ts) holds (no execute, poll or
 *   trigger; a webhook or methods only on a declarative node), it gives the node itself an
 *   execute() that runs n8n-core's RoutingNode on that node type, so every caller sees it;
 * - WorkflowExecute (n8n-core execution-engine, 1.x and 2.x alike) then runs a custom operation
 *   (`customOperations[resource][operation]`) in place of execute() where one is defined, else
 *   execute(), with the execution's cancel signal.
 * Only the first call changes the node: afterwards it has its execute().
 */
export function asServed(nodeType: INodeType): INodeType {
	const isDeclarative = nodeType.description.requestDefaults !== undefined;
	const shouldAssignExecuteMethod =
		!nodeType.execute &&
		!nodeType.poll &&
		!nodeType.trigger &&
		(!nodeType.webhook || isDeclarative) &&
		(!nodeType.methods || isDeclarative);
	if (shouldAssignExecuteMethod) {
		nodeType.execute = async function (this: ExecuteContext) {
			return (await new RoutingNode(this, nodeType).runNode()) ?? [];
		};
	}
	return nodeType;
}

/**
 * The `<type>Tool` variant n8n's server derives for a usableAsTool node: getByNameAndVersion
 * serves the node first (above), then extends that served node type into a new object rather than
 * change it, and convertNodeToAiTool (packages/cli/src/tool-generation.ts) renames it `<name>Tool`
 * with no inputs and one ai_tool output (its other description changes, such as the Tool Description
 * setting, are left out here). Everything else, the execute() that runs RoutingNode on the
 * original node type and its customOperations among it, comes through the prototype, so
 * WorkflowExecute picks a custom operation or execute() for the tool just as for the node.
 */
export function asTool(nodeType: INodeType): INodeType {
	const served = asServed(nodeType);
	const description = Object.create(served.description, {
		name: { value: `${served.description.name}Tool` },
		inputs: { value: [] },
		outputs: { value: [NodeConnectionTypes.AiTool] },
	}) as INodeTypeDescription;
	return Object.create(served, { description: { value: description } }) as INodeType;
}
