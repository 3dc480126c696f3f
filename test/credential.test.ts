import { testCredential } from './harness/testCredential';
import { SEEDED, useSandbox } from './sandboxRun';

const box = useSandbox();

describe('Credential test (GET /v1/me)', () => {
	const test = (data: Record<string, string>) => testCredential({ baseUrl: box.sandbox.url, ...data });

	it('succeeds for a valid personal key', async () => {
		expect(await test({ apiKey: SEEDED.personal })).toEqual({ status: 'OK', message: 'Connection successful!' });
		const [request] = box.sandbox.requests;
		expect(request).toMatchObject({ method: 'GET', path: '/v1/me', hasAuthorization: false });
	});

	it('succeeds for an application key with a session token, with a trailing slash on the base URL', async () => {
		const result = await test({ apiKey: SEEDED.app, sessionToken: SEEDED.session, baseUrl: `${box.sandbox.url}/` });
		expect(result.status).toBe('OK');
		expect(box.sandbox.requests[0]).toMatchObject({ path: '/v1/me', authScheme: 'Bearer' });
	});

	it('names an invalid key', async () => {
		expect(await test({ apiKey: 'vibe_api_unknown' })).toEqual({
			status: 'Error',
			message: 'The API key is invalid, expired or deleted. Create a new key in the Vibecode dashboard.',
		});
	});

	it('names an application key without a session token', async () => {
		const result = await test({ apiKey: SEEDED.app });
		expect(result).toEqual({ status: 'Error', message: expect.stringMatching(/needs a user session token/) });
	});

	it('names an expired session', async () => {
		const result = await test({ apiKey: SEEDED.app, sessionToken: SEEDED.expiredSession });
		expect(result.message).toMatch(/session has expired.*Re-authorize/);
	});

	it('fails for a server that is not the Vibecode API', async () => {
		box.sandbox.injectFault({ kind: 'html502' });
		const result = await test({ apiKey: SEEDED.personal });
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(/does not answer like the Vibecode API/);
	});
});
