import type {
	IAuthenticateRuleResponseSuccessBody,
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

// The test request keeps error bodies (ignoreHttpStatusErrors) so that the rules can
// name the reason by the API's error code instead of a bare "Unauthorized".
const failWhen = (value: unknown, message: string): IAuthenticateRuleResponseSuccessBody => ({
	type: 'responseSuccessBody',
	properties: { key: 'error.code', value, message },
});

export class Bitrix24VibecodeApi implements ICredentialType {
	name = 'bitrix24VibecodeApi';

	displayName = 'Bitrix24 Vibecode API';

	icon = {
		light: 'file:../nodes/Bitrix24Vibecode/bitrix24Vibecode.svg',
		dark: 'file:../nodes/Bitrix24Vibecode/bitrix24Vibecode.dark.svg',
	} as const;

	documentationUrl = 'https://vibecode.bitrix24.com/docs/keys-auth';

	properties: INodeProperties[] = [
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			placeholder: 'vibe_api_… or vibe_app_…',
			description:
				'Your Vibecode key, sent as X-Api-Key. A personal key (vibe_api_…) can fire triggers. Listing triggers needs an OAuth application key (vibe_app_…) together with a user session token.',
		},
		{
			displayName: 'Session Token',
			name: 'sessionToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'vibe_session_…',
			description:
				'Only for an OAuth application key (vibe_app_…): the user session token from the Vibecode OAuth flow (/v1/oauth/authorize), sent as "Authorization: Bearer". It expires; re-authorize and paste the new token here. Leave empty for a personal key.',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://vibecode.bitrix24.tech',
			description: 'Address of the Vibecode API. Change it only for a self-hosted gateway or a test server.',
		},
	];

	// A function, not generic headers: a generic Authorization header would be sent empty
	// for personal keys, which the gateway treats as a broken session.
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const headers: IHttpRequestOptions['headers'] = {
			...requestOptions.headers,
			'X-Api-Key': String(credentials.apiKey ?? '').trim(),
		};
		const sessionToken = String(credentials.sessionToken ?? '').trim();
		if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`;
		return { ...requestOptions, headers };
	}

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.baseUrl).replace(/\\/+$/, "") }}',
			url: '/v1/me',
			ignoreHttpStatusErrors: true,
		},
		rules: [
			failWhen('INVALID_API_KEY', 'The API key is invalid, expired or deleted. Create a new key in the Vibecode dashboard.'),
			failWhen('MISSING_API_KEY', 'The API key is empty. Paste your Vibecode key into "API Key".'),
			failWhen('INVALID_APP_KEY', 'This OAuth application key (vibe_app_…) needs a user session token. Fill in "Session Token".'),
			failWhen('TOKEN_MISSING', 'This OAuth application key (vibe_app_…) needs a user session token. Fill in "Session Token".'),
			failWhen('TOKEN_EXPIRED', 'The user session has expired. Re-authorize via /v1/oauth/authorize and paste the new session token.'),
			failWhen('SCOPE_DENIED', 'The key works but lacks the "crm" scope. Enable it for the key in the Vibecode dashboard.'),
			failWhen('RATE_LIMITED', 'The key is over its rate limit right now. Wait a minute and test again.'),
			failWhen('BITRIX_UNAVAILABLE', 'The key works but the Bitrix24 portal did not answer. Try again later.'),
			{
				// An HTML page or any other non-envelope answer has no `success` at all.
				type: 'responseSuccessBody',
				properties: {
					key: 'success',
					value: undefined,
					message: 'The Base URL does not answer like the Vibecode API. Check it: usually https://vibecode.bitrix24.tech.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'success',
					value: false,
					message: 'Vibecode refused the key. Check the API key, session token and base URL.',
				},
			},
		],
	};
}
