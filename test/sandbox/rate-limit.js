'use strict';

// Per-key window limiter. Each key keeps a ring buffer of the arrival
// times of its counted requests: at most `limit` of them can be inside the
// window, so the buffer never grows and every request costs O(1) amortised
// (the benchmark pushes 10,000 requests through it).
//
// What X-RateLimit-Reset holds is undocumented and gateways differ (`reset`):
// - 'oldest' (default): a sliding window; Reset is when the oldest counted request leaves it
//   (epoch seconds, rounded up);
// - 'window': fixed windows, aligned to multiples of windowMs since the epoch, counted afresh
//   in each; Reset is the end of the current one (epoch seconds, rounded up);
// - 'zero': a sliding window; Reset is 0 while the window has room, else the seconds until
//   the oldest leaves it (rounded up).
// X-RateLimit-Reset-Ms says the same in milliseconds (exact), for short windows.

const READINGS = ['oldest', 'window', 'zero'];

class Window {
  constructor(limit, windowMs, reading) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.fixed = reading === 'window';
    this.zero = reading === 'zero';
    this.times = new Float64Array(limit);
    this.head = 0;
    this.size = 0;
  }

  /** When the current fixed window ends. */
  end(now) {
    return (Math.floor(now / this.windowMs) + 1) * this.windowMs;
  }

  evict(now) {
    const leftBy = this.fixed ? this.end(now) - this.windowMs : now - this.windowMs;
    while (this.size > 0 && (this.fixed ? this.times[this.head] < leftBy : this.times[this.head] <= leftBy)) {
      this.head = (this.head + 1) % this.limit;
      this.size--;
    }
  }

  state(now, allowed) {
    // When the window has room again; with nothing counted a sliding window is "already reset".
    const resetMs = this.fixed ? this.end(now) : this.size > 0 ? this.times[this.head] + this.windowMs : now;
    const remaining = this.limit - this.size;
    const waitMs = Math.max(0, resetMs - now);
    return {
      allowed,
      limit: this.limit,
      remaining,
      resetMs,
      // What the X-RateLimit-Reset headers say, in seconds and in milliseconds.
      reset: this.zero ? (remaining > 0 ? 0 : Math.ceil(waitMs / 1000)) : Math.ceil(resetMs / 1000),
      resetExactMs: this.zero ? (remaining > 0 ? 0 : Math.ceil(waitMs)) : Math.ceil(resetMs),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
    };
  }

  take(now) {
    this.evict(now);
    // Refused requests are not recorded, so hammering a full window does not
    // push its reset further away.
    if (this.size >= this.limit) return this.state(now, false);
    this.times[(this.head + this.size) % this.limit] = now;
    this.size++;
    return this.state(now, true);
  }

  peek(now) {
    this.evict(now);
    return this.state(now, true);
  }
}

function checkConfig(config) {
  if (config === false || config === null) return false;
  const { limit, windowMs, reset = 'oldest' } = config || {};
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError('rateLimit.limit must be a positive integer');
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new TypeError('rateLimit.windowMs must be a positive number');
  if (!READINGS.includes(reset)) throw new TypeError(`rateLimit.reset must be one of ${READINGS.join(', ')}`);
  return { limit, windowMs, reset };
}

class RateLimiter {
  constructor(config) {
    this.config = checkConfig(config);
    this.windows = new Map();
  }

  configure(config) {
    this.config = checkConfig(config);
    this.windows.clear();
  }

  reset() {
    this.windows.clear();
  }

  get enabled() {
    return this.config !== false;
  }

  window(bucket, limitOverride) {
    const limit = limitOverride || this.config.limit;
    let w = this.windows.get(bucket);
    if (!w || w.limit !== limit) {
      w = new Window(limit, this.config.windowMs, this.config.reset);
      this.windows.set(bucket, w);
    }
    return w;
  }

  /** Counts the request if it fits; null when limiting is off. */
  take(bucket, limitOverride, now = Date.now()) {
    return this.enabled ? this.window(bucket, limitOverride).take(now) : null;
  }

  /** Current state without counting (for answers that did not pass auth). */
  peek(bucket, limitOverride, now = Date.now()) {
    if (!this.enabled) return null;
    if (bucket === null) return new Window(this.config.limit, this.config.windowMs, this.config.reset).peek(now);
    return this.window(bucket, limitOverride).peek(now);
  }
}

function rateLimitHeaders(state) {
  if (!state) return {};
  return {
    'X-RateLimit-Limit': String(state.limit),
    'X-RateLimit-Remaining': String(state.remaining),
    // Rounded up, so waiting until Reset is always enough; the -Ms variant is exact for
    // clients (and tests) that use short windows.
    'X-RateLimit-Reset': String(state.reset),
    'X-RateLimit-Reset-Ms': String(state.resetExactMs),
  };
}

module.exports = { RateLimiter, rateLimitHeaders, READINGS };
