import { rateHeadersOf } from '../../nodes/Bitrix24Vibecode/transport/rateHeaders';

// Oracle: Vibecode's pages (X-RateLimit-Limit on every answer; Remaining and Reset per
// third-party sources, Reset as a time) and the sandbox's headers (test/sandbox/rate-limit.js:
// Reset in epoch seconds rounded up, Reset-Ms exact). n8n hands headers lower-cased.
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

describe('rateHeadersOf', () => {
	test('all three headers, Reset in epoch seconds', () => {
		const headers = { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '297', 'x-ratelimit-reset': String(NOW / 1000 + 42) };
		expect(rateHeadersOf(headers, NOW)).toEqual({ limit: 300, remaining: 297, resetAtMs: NOW + 42_000 });
	});

	test('an exact Reset-Ms wins over the rounded Reset', () => {
		const headers = { 'x-ratelimit-reset': String(Math.ceil((NOW + 1_500) / 1000)), 'x-ratelimit-reset-ms': String(NOW + 1_500) };
		expect(rateHeadersOf(headers, NOW)).toEqual({ resetAtMs: NOW + 1_500 });
	});

	test.each([
		['0 (a gateway that says so while there is room)', '0', NOW],
		['epoch milliseconds', String(NOW + 7_000), NOW + 7_000],
		['seconds from now', '7', NOW + 7_000],
		['a number, not text', NOW / 1000 + 7, NOW + 7_000],
	])('Reset as %s', (_label, reset, resetAtMs) => {
		expect(rateHeadersOf({ 'x-ratelimit-reset': reset }, NOW)).toEqual({ resetAtMs });
	});

	test.each([
		['0', '0', NOW],
		['milliseconds from now', '1500', NOW + 1_500],
	])('Reset-Ms as %s', (_label, resetMs, resetAtMs) => {
		expect(rateHeadersOf({ 'x-ratelimit-reset-ms': resetMs }, NOW)).toEqual({ resetAtMs });
	});

	test.each([
		[undefined, {}],
		[{}, {}],
		[{ 'x-ratelimit-limit': '0' }, {}],
		[{ 'x-ratelimit-limit': 'many' }, {}],
		[{ 'x-ratelimit-limit': '-5', 'x-ratelimit-remaining': '' }, {}],
		[{ 'x-ratelimit-remaining': '0' }, { remaining: 0 }],
		[{ 'x-ratelimit-limit': ['600', '300'] }, { limit: 600 }],
		[{ 'x-ratelimit-limit': '120.7', 'x-ratelimit-remaining': '3.2' }, { limit: 120, remaining: 3 }],
	])('%p reads as %p', (headers, expected) => {
		expect(rateHeadersOf(headers, NOW)).toEqual(expected);
	});
});
