import type { INodeProperties } from 'n8n-workflow';

// The defaults are literals, as n8n's lint rules require (they read a parameter's default
// from the source); keep them equal to DEFAULT_PACING in ../transport/request.ts.
export const pacingOptions: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add option',
	default: {},
	options: [
		{
			displayName: 'Max Concurrent Requests',
			name: 'maxConcurrent',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 100 },
			default: 5,
			description: 'How many requests with this API key may wait for an answer at the same time',
		},
		{
			displayName: 'Max Retries on Rate Limit',
			name: 'maxRateLimitRetries',
			type: 'number',
			typeOptions: { minValue: 0, maxValue: 20 },
			default: 5,
			description:
				'How many times an item refused with "too many requests" (429) is sent again, after the wait Vibecode asks for. Safe: a refused request never reached Bitrix24.',
		},
		{
			displayName: 'Requests per Minute',
			name: 'requestsPerMinute',
			type: 'number',
			typeOptions: { minValue: 1 },
			default: 300,
			description:
				"Requests are spread evenly to stay under this rate. Vibecode allows 300 per minute per key unless the key's limit was changed in the Vibecode dashboard. All workflows that use the same key share one pace; each request keeps the rate set in its own node.",
		},
		{
			displayName: 'Retry Failed Fires (May Fire Twice)',
			name: 'retryAmbiguousFires',
			type: 'boolean',
			default: false,
			displayOptions: { show: { '/operation': ['fire'] } },
			description:
				'Whether to send a fire once more when it failed after it was sent (gateway error 502 or 504, broken connection, timeout). Bitrix24 may already have run the automation, so turning this on can run it twice.',
		},
	],
};
