import type { INodeExecutionData } from 'n8n-workflow';

import type { RunResult } from '../harness/runWorkflow';
import type { KeySpec, Sandbox } from '../sandbox/server';

export type Outcome = { ok: INodeExecutionData[]; error?: undefined } | { ok?: undefined; error: INodeExecutionData };

function pairedIndex(item: INodeExecutionData): number {
	const paired = item.pairedItem;
	const first = Array.isArray(paired) ? paired[0] : paired;
	if (typeof first !== 'object' || first === null || typeof first.item !== 'number') {
		throw new Error(`output item without pairedItem: ${JSON.stringify(item.json)}`);
	}
	return first.item;
}

/**
 * What became of each input item under "Continue (using error output)", matched by
 * pairedItem. Throws unless every input item ends on exactly one of the two outputs
 * (a successful item may give several output items, as List Triggers does).
 */
export function outcomes(result: RunResult, inputCount: number): Outcome[] {
	if (result.error) throw new Error(`the run stopped: ${result.error.message}`);
	const ok = new Map<number, INodeExecutionData[]>();
	const failed = new Map<number, INodeExecutionData[]>();
	for (const item of result.main) ok.set(pairedIndex(item), [...(ok.get(pairedIndex(item)) ?? []), item]);
	for (const item of result.errors) failed.set(pairedIndex(item), [...(failed.get(pairedIndex(item)) ?? []), item]);
	return Array.from({ length: inputCount }, (_, index) => {
		const good = ok.get(index);
		const bad = failed.get(index);
		if (good && bad) throw new Error(`item ${index} is on both outputs`);
		if (bad && bad.length !== 1) throw new Error(`item ${index} is on the error output ${bad.length} times`);
		if (bad) return { error: bad[0] };
		if (good) return { ok: good };
		throw new Error(`item ${index} is lost: on neither output`);
	});
}

/** Entity IDs that the sandbox recorded more than once. */
export function firedTwice(sandbox: Sandbox): Array<string | number> {
	const seen = new Set<string>();
	const twice: Array<string | number> = [];
	for (const fire of sandbox.fires) {
		const key = `${fire.entityType}:${fire.entityId}:${fire.triggerId}`;
		if (seen.has(key)) twice.push(fire.entityId);
		seen.add(key);
	}
	return twice;
}

let keys = 0;
/** A key of its own: the node paces per key for the whole process, so tests must not share one. */
export function freshKey(sandbox: Sandbox, spec: KeySpec & { prefix?: 'vibe_api_' | 'vibe_app_' } = {}): string {
	const { prefix = 'vibe_api_', ...keySpec } = spec;
	const id = `hostile${++keys}`;
	sandbox.addKey(`${prefix}${id}`, { id, ...keySpec });
	return `${prefix}${id}`;
}

export const ids = (count: number, from = 1) => Array.from({ length: count }, (_, i) => ({ id: from + i }));
