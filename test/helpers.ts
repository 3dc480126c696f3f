import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	INodeExecutionData,
	INode,
	INodeParameters,
} from 'n8n-workflow';
import type Nock from 'nock';

import { runWorkflow, type OnError, type RunResult } from './harness/runWorkflow';
import { load } from './harness/system';

export const API = 'https://vibecode.bitrix24.tech';
export const PERSONAL_KEY = 'vibe_api_DUMMYSECRET_personal_0123456789';
export const APP_KEY = 'vibe_app_DUMMYSECRET_app_0123456789';
export const SESSION = 'vibe_session_DUMMYSECRET_user_0123456789';

/**
 * Fast enough for tests; pacing itself is tested with the defaults elsewhere. The record check
 * and the stage report have their own suites (recordCheck.test.ts, stageChange.test.ts);
 * elsewhere they are off, so that each suite sends and counts only the requests of what it
 * tests, as before they existed.
 */
export const FAST = { requestsPerMinute: 600_000, maxConcurrent: 20, checkRecords: false, reportStageChange: false };

/**
 * n8n's Retry On Fail, three tries. n8n takes a wait of 0 between tries as its default, a real
 * second (`waitBetweenTries || 1000`); 1 ms is the shortest it keeps.
 */
export const RETRY_ON_FAIL = { retryOnFail: true, maxTries: 3, waitBetweenTries: 1 };

export function fireParameters(overrides: IDataObject = {}): INodeParameters {
	const { entityType = 'deal', entityId = '={{ $json.id }}', mode = 'id', trigger = 'payment_received', triggerMode = 'code', options = FAST } =
		overrides;
	return {
		resource: 'trigger',
		operation: 'fire',
		entityType,
		entityId: { __rl: true, mode, value: entityId },
		triggerId: { __rl: true, mode: triggerMode, value: trigger },
		options,
	} as INodeParameters;
}

export function listParameters(options: IDataObject = FAST): INodeParameters {
	return { resource: 'trigger', operation: 'list', options } as INodeParameters;
}

export async function fire(
	items: IDataObject[],
	{
		onError,
		credentials,
		settings,
		...overrides
	}: IDataObject & { onError?: OnError; credentials?: IDataObject; settings?: Partial<INode> } = {},
): Promise<RunResult> {
	return await runWorkflow({
		parameters: fireParameters(overrides),
		items,
		onError,
		settings,
		credentials: (credentials as ICredentialDataDecryptedObject | undefined) ?? { apiKey: PERSONAL_KEY },
	});
}

export const json = (items: INodeExecutionData[]) => items.map((item) => item.json);

/** What the node puts into a failed item: { error: { message, description, code, … } }. */
export const details = (item: INodeExecutionData) => item.json.error as IDataObject;
export const errorMessage = (item: INodeExecutionData) => details(item).message;

/**
 * nock, for the few cases the sandbox cannot serve (raw credential bytes, socket errors). Loaded
 * on first use, not at the top: once loaded, nock intercepts every HTTP request of the test file,
 * the sandbox's too, which costs the sandbox suites that import these helpers a third of their time.
 */
export const loadNock = () => load('nock') as typeof Nock;

/** The headers of every fire request, as sent (the sandbox's log redacts the credential); nock answers each a success. */
export function recordFireHeaders() {
	const headers: Array<Record<string, string | string[] | undefined>> = [];
	loadNock()(API)
		.post('/v1/triggers/fire')
		.times(Number.MAX_SAFE_INTEGER)
		.reply(function () {
			headers.push({ ...this.req.headers });
			return [200, { success: true, data: true }];
		});
	return headers;
}

export const apiError = (code: string, message: string, extra: IDataObject = {}) => ({
	success: false,
	error: { code, message, ...extra },
});

/** A tool call's failed answer as the model reads it: { success: false, fired, failure: {…}, …record }. */
export const toolFailure = (result: { items?: IDataObject[] }) =>
	result.items?.length === 1 && result.items[0].success === false ? (result.items[0].failure as IDataObject) : undefined;
