import type { IDataObject, INode } from 'n8n-workflow';

import { startSandbox, SEEDED, type Sandbox, type SandboxOptions } from './sandbox/server';
import { runWorkflow, type OnError, type RunResult } from './harness/runWorkflow';
import { fireParameters } from './helpers';

export { SEEDED };

/** The bodies of the fire requests the sandbox received, in order. */
export const fireBodies = (sandbox: Sandbox) =>
	sandbox.requests.filter((r) => r.path === '/v1/triggers/fire').map((r) => r.body as IDataObject);

/** Fire Trigger against the sandbox, with the SEEDED personal key unless told otherwise. */
export const fireWith = (box: { sandbox: Sandbox }) => async (items: IDataObject[], overrides?: Parameters<typeof fireAt>[2]) =>
	await fireAt(box.sandbox, items, overrides);

/** A sandbox per test file; tests reset it. */
export function useSandbox(options: SandboxOptions = { rateLimit: false }) {
	const box: { sandbox: Sandbox } = {} as never;
	beforeAll(async () => {
		box.sandbox = await startSandbox(options);
	});
	beforeEach(() => box.sandbox.reset());
	afterAll(async () => await box.sandbox.close());
	return box;
}

export async function fireAt(
	sandbox: Sandbox,
	items: IDataObject[],
	{
		onError,
		apiKey = SEEDED.personal,
		baseUrl = sandbox.url,
		sessionToken,
		settings,
		signal,
		...overrides
	}: IDataObject & {
		onError?: OnError;
		apiKey?: string;
		baseUrl?: string;
		sessionToken?: string;
		settings?: Partial<INode>;
		signal?: AbortSignal;
	} = {},
): Promise<RunResult> {
	return await runWorkflow({
		parameters: fireParameters(overrides),
		items,
		onError,
		settings,
		signal,
		credentials: { apiKey, ...(sessionToken !== undefined && { sessionToken }), baseUrl },
	});
}
