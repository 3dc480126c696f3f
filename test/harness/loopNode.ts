import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType } from 'n8n-workflow';

export const LOOP_TYPE = 'harness.loop';

/**
 * n8n's Loop Over Items (SplitInBatches v3) as far as a workflow run sees it: outputs "done"
 * and "loop"; each time the loop comes back it sends the next batch, and at the end all that
 * came back goes out on "done". Node types of n8n-nodes-base are not a dependency here.
 */
export const loopNode: INodeType = {
	description: {
		displayName: 'Loop Over Items',
		name: LOOP_TYPE,
		group: ['organization'],
		version: 1,
		description: 'Splits items into batches',
		defaults: { name: 'Loop Over Items' },
		inputs: ['main'],
		outputs: ['main', 'main'],
		outputNames: ['done', 'loop'],
		properties: [{ displayName: 'Batch Size', name: 'batchSize', type: 'number', default: 1 }],
	},
	async execute(this: IExecuteFunctions) {
		const state = this.getContext('node') as IDataObject & { left?: INodeExecutionData[]; back?: INodeExecutionData[] };
		const size = this.getNodeParameter('batchSize', 0) as number;
		const input = this.getInputData();
		if (state.left === undefined) {
			state.left = input.map((item) => ({ json: { ...item.json } }));
			state.back = [];
		} else {
			state.back = [...(state.back ?? []), ...input];
		}
		const batch = state.left.splice(0, size);
		if (batch.length > 0) return [[], batch];
		const done = state.back ?? [];
		state.left = undefined;
		return [done, []];
	},
};
