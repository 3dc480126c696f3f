import { Workflow, type INode, type INodeType } from 'n8n-workflow';

/** The throwaway workflow n8n builds around one node to load options or test a credential. */
export function oneNodeWorkflow(node: INode, nodeType: INodeType): Workflow {
	return new Workflow({
		nodes: [node],
		connections: {},
		active: false,
		nodeTypes: {
			getByName: () => nodeType,
			getByNameAndVersion: () => nodeType,
			getKnownTypes: () => ({}),
		},
	});
}
