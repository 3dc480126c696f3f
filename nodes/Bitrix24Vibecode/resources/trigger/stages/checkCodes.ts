import { apiError, unknownTriggerError } from '../../../errors';
import type { Registered } from '../../../shared/closest';
import type { FireInput } from '../fireInput';
import { failed, unsettled, type Item } from '../item';
import type { Run } from '../run';
import { canListTriggers, triggerList } from '../triggerList';

/**
 * The trigger code check, before anything is sent: a code the application did not register
 * fails (Bitrix24 would refuse it); the list is read again once when a remembered one lacks a
 * code. A refusal of the key or session fails the items with it. The run keeps the list, to name
 * the registered codes if Bitrix24 refuses one all the same.
 */
export async function checkTriggerCodes(run: Run, items: Item[]) {
	const unsent = unsettled(items);
	if (!run.options.checkTriggerCodes || !canListTriggers(run.credentials) || !unsent.length || run.signal?.aborted) return;
	const lacks = (registered: Registered[]) => unsent.some((item) => !registered.some((trigger) => trigger.code === item.input?.triggerId));
	let list = await triggerList(run, { fresh: false });
	if (list?.registered && list.remembered && lacks(list.registered)) list = await triggerList(run, { fresh: true });
	if (list?.refusal) {
		for (const item of unsent) item.outcome = failed(apiError(run.node, item.itemIndex, list.refusal, 'fire'));
		return;
	}
	if (!list) return;
	run.registered = list.registered;
	for (const item of unsent) {
		const code = (item.input as FireInput).triggerId;
		if (!list.registered.some((trigger) => trigger.code === code)) item.outcome = failed(unknownTriggerError(run.node, item.itemIndex, code, list.registered));
	}
}
