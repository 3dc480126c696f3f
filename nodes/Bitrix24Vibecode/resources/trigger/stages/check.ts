import type { IDataObject } from 'n8n-workflow';

import { asNodeError } from '../../../errors';
import { readItemOption } from '../../../options';
import { checkFireInput, fireName } from '../fireInput';
import { failed, type Item } from '../item';
import { fireKey } from '../ledger';
import type { Run } from '../run';

/**
 * The check stage: every item's parameters read and checked before anything is sent, its ledger
 * key and its Fire Once Key made. In "Stop" mode the first bad item stops the node at once.
 */
export function checkInputs(run: Run, items: Item[]) {
	for (const item of items) {
		const { itemIndex } = item;
		item.raw = {
			entityType: run.parameter('entityType', itemIndex),
			entityId: run.parameter('entityId', itemIndex, '', { extractValue: true }),
			triggerId: run.parameter('triggerId', itemIndex, '', { extractValue: true }),
		} as IDataObject;
		try {
			const entityIdMode = run.parameter('entityId.mode', itemIndex, 'id') as string;
			item.input = checkFireInput(run.node, itemIndex, { ...item.raw, entityIdMode });
			item.key = fireKey(run.node.name, itemIndex, item.input);
			if (run.options.fireOnce) {
				item.onceKey = readItemOption(run, itemIndex, 'fireOnceKey') || fireName(item.input);
				item.fireUnanswered = readItemOption(run, itemIndex, 'fireOnceUnanswered') === 'fire';
			}
		} catch (error) {
			if (run.stopOnFailure) throw asNodeError(run.node, itemIndex, error);
			item.outcome = failed(error as Error);
		}
	}
}
