import { apiError, closestCodesText } from '../../errors';
import { isAmbiguous } from '../../transport/failure';
import type { Sent } from '../../transport/request';
import type { FireInput } from './fireInput';
import { failed, type Item, type Outcome } from './item';
import type { Run } from './run';
import { forgetTriggerList } from './triggerList';

/** What Bitrix24's answer to a fire means for its item; a refused code names the registered ones when the run knows them. */
export function fireOutcome(run: Run, item: Item, sent: Sent): Outcome {
	if (!sent.failure) return { fired: item.input as FireInput };
	const error = apiError(run.node, item.itemIndex, sent.failure, 'fire');
	if (sent.failure.bitrixRefusal === 'TRIGGER_NOT_REGISTERED') {
		// The list the check went by had the code: it is out of date, and the next run reads it again.
		forgetTriggerList(run);
		const code = (item.input as FireInput).triggerId;
		const others = run.registered?.filter((trigger) => trigger.code !== code);
		if (others) error.description = `${error.description ?? ''} ${closestCodesText(code, others)}`.trim();
	}
	return failed(error, isAmbiguous(sent.failure));
}
