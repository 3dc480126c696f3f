'use strict';

// Per-key sliding-window limiter. Each key keeps a ring buffer of the arrival
// times of its counted requests: at most `limit` of them can be inside the
// window, so the buffer never grows and every request costs O(1) amortised
// (the benchmark pushes 10,000 requests through it).

class Window {
  constructor(limit, windowMs) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.times = new Float64Array(limit);
    this.head = 0;
    this.size = 0;
  }

  evict(now) {
    while (this.size > 0 && this.times[this.head] + this.windowMs <= now) {
      this.head = (this.head + 1) % this.limit;
      this.size--;
    }
  }

  state(now, allowed) {
    // With nothing counted the window is "already reset".
    const resetMs = this.size > 0 ? this.times[this.head] + this.windowMs : now;
    return {
      allowed,
      limit: this.limit,
      remaining: this.limit - this.size,
      resetMs,
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((resetMs - now) / 1000)),
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
  const { limit, windowMs } = config || {};
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError('rateLimit.limit must be a positive integer');
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new TypeError('rateLimit.windowMs must be a positive number');
  return { limit, windowMs };
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
      w = new Window(limit, this.config.windowMs);
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
    if (bucket === null) return new Window(this.config.limit, this.config.windowMs).peek(now);
    return this.window(bucket, limitOverride).peek(now);
  }
}

function rateLimitHeaders(state) {
  if (!state) return {};
  return {
    'X-RateLimit-Limit': String(state.limit),
    'X-RateLimit-Remaining': String(state.remaining),
    // Epoch seconds rounded up, so waiting until Reset is always enough;
    // the -Ms variant is exact for clients (and tests) that use short windows.
    'X-RateLimit-Reset': String(Math.ceil(state.resetMs / 1000)),
    'X-RateLimit-Reset-Ms': String(Math.ceil(state.resetMs)),
  };
}

module.exports = { RateLimiter, rateLimitHeaders };
