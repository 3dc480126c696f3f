import { missingRecordError } from '../../../errors';
import { recordKey, stageFieldOf } from '../../../shared/entityTypes';
import type { FireInput } from '../fireInput';
import { failed, unsettled, type Item } from '../item';
import { lookUp } from '../records';
import type { Run } from '../run';

/**
 * The record check, before anything is sent. With "Check Records Exist", an item whose record
 * does not exist fails (Bitrix24 would accept it and run nothing); a search that fails leaves its
 * records unchecked: they are fired, never stopped by a guess. The same search reads the stage of
 * each record of a type with stages, for "Report Stage Change" and a rehearsal, which read it
 * even with the check off.
 */
export async function checkRecords(run: Run, items: Item[]) {
	const { checkRecords: check, reportStageChange, rehearse } = run.options;
	const staged = reportStageChange || rehearse;
	const wanted = unsettled(items).filter((item) => check || (staged && stageFieldOf((item.input as FireInput).entityType)));
	if (!wanted.length || run.signal?.aborted) return;
	const looked = await lookUp(run, wanted.map((item) => item.input as FireInput));
	for (const item of wanted) {
		const input = item.input as FireInput;
		const found = looked.get(recordKey(input));
		if (found?.exists) item.stageBefore = found.stage;
		else if (found && check) item.outcome = failed(missingRecordError(run.node, item.itemIndex, input));
	}
}
