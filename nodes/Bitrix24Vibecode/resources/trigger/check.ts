import type { IDataObject } from 'n8n-workflow';

import { readItemOption } from '../../shared/options';
import { asNodeError } from './errors';
import { checkFireInput } from './fireInput';
import { failed, type Item } from './item';
import { fireKey } from './ledger';
import type { Run } from './run';

// The check stage of Fire Trigger's run: each item's parameters read and checked before
// anything is sent.

/** Reads and checks every item before anything is sent; in "Stop" mode a bad item stops the run. */
export function checkItems(run: Run): Item[] {
	return run.itemIndices.map((itemIndex) => {
		const raw = {
			entityType: run.parameter('entityType', itemIndex),
			entityId: run.parameter('entityId', itemIndex, '', { extractValue: true }),
			triggerId: run.parameter('triggerId', itemIndex, '', { extractValue: true }),
		} as IDataObject;
		const item: Item = { itemIndex, raw };
		try {
			const entityIdMode = run.parameter('entityId.mode', itemIndex, 'id') as string;
			item.input = checkFireInput(run.node, itemIndex, { ...raw, entityIdMode });
			item.key = fireKey(run.node.name, itemIndex, item.input);
			if (run.options.fireOnce) {
				item.onceKey = readItemOption(run, itemIndex, 'fireOnceKey') || `${item.input.entityType}:${item.input.entityId}:${item.input.triggerId}`;
				item.fireUnanswered = readItemOption(run, itemIndex, 'fireOnceUnanswered') === 'fire';
			}
		} catch (error) {
			if (run.stopOnFailure) throw asNodeError(run.node, itemIndex, error);
			item.outcome = failed(error as Error);
		}
		return item;
	});
}

