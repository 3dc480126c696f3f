import { PROCESS_CACHE_BOUND, ProcessCache } from '../../nodes/Bitrix24Vibecode/transport/processCache';

// Oracle: issue 31 (the process's memories share one bound and one eviction rule) and the
// pacer's rule of one pace per key: when the bound is reached the entry used longest ago goes,
// never one still in use (a pacer with requests waiting or in flight).

const keys = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `k${from + i}`);

function full<V>(cache: ProcessCache<string, V>, value: (key: string) => V) {
	for (const key of keys(PROCESS_CACHE_BOUND)) cache.set(key, value(key));
	return cache;
}

describe('ProcessCache', () => {
	test('keeps a thousand entries; the next one drops the entry used longest ago, and only it', () => {
		expect(PROCESS_CACHE_BOUND).toBe(1000);
		const cache = full(new ProcessCache<string, number>(), (key) => Number(key.slice(1)));
		cache.set('new', -1);

		expect(cache.get('k0')).toBeUndefined();
		expect(keys(PROCESS_CACHE_BOUND - 1, 1).every((key) => cache.get(key) === Number(key.slice(1)))).toBe(true);
		expect(cache.get('new')).toBe(-1);
	});

	test('a get or a set is a use: the entry read or written last is kept longest', () => {
		const cache = full(new ProcessCache<string, number>(), () => 0);
		expect(cache.get('k0')).toBe(0);
		cache.set('k1', 1);
		cache.set('new', 2);
		cache.set('newer', 3);

		expect(cache.get('k2')).toBeUndefined();
		expect(cache.get('k3')).toBeUndefined();
		expect([cache.get('k0'), cache.get('k1'), cache.get('k4'), cache.get('new'), cache.get('newer')]).toEqual([0, 1, 0, 2, 3]);
	});

	test('setting a key it has replaces its value and drops nothing', () => {
		const cache = full(new ProcessCache<string, number>(), () => 0);
		cache.set('k0', 5);
		expect(cache.get('k0')).toBe(5);
		expect(keys(PROCESS_CACHE_BOUND).every((key) => cache.get(key) !== undefined)).toBe(true);
	});

	test('an entry in use is never dropped: the oldest idle one goes instead', () => {
		const busy = new Set(['k0', 'k1']);
		const cache = full(new ProcessCache<string, string>((key) => busy.has(key)), (key) => key);
		cache.set('new', 'new');

		expect([cache.get('k0'), cache.get('k1'), cache.get('k2'), cache.get('new')]).toEqual(['k0', 'k1', undefined, 'new']);
	});

	test('with every entry in use the memory outgrows its bound rather than drop one, and never drops the entry just set', () => {
		// The new entry is the only idle one (a pacer just made, nothing waiting on it yet).
		const cache = full(new ProcessCache<string, string>((value) => value !== 'new'), (key) => key);
		cache.set('new', 'new');
		expect(cache.get('new')).toBe('new');
		expect(keys(PROCESS_CACHE_BOUND).every((key) => cache.get(key) === key)).toBe(true);
	});

	test('delete forgets an entry', () => {
		const cache = new ProcessCache<string, number>();
		cache.set('a', 1);
		expect(cache.delete('a')).toBe(true);
		expect(cache.get('a')).toBeUndefined();
		expect(cache.delete('a')).toBe(false);
	});
});
