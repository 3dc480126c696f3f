'use strict';

// Bitrix24's own throttle behind the gateway: one leaky bucket per portal, shared by every key.
// Each request that reaches the CRM adds 1 to the level; the level drains continuously at
// `drainPerSecond`; a request that would push the level over `burst` is refused (and adds nothing).
// Standard plans: 2/s with a burst of 50; Enterprise: 5/s with 250.

function checkPortal(config) {
  if (config === false || config === null || config === undefined) return false;
  if (typeof config !== 'object') throw new TypeError('portal must be { drainPerSecond, burst } or false');
  const { drainPerSecond, burst } = config;
  if (!(Number.isFinite(drainPerSecond) && drainPerSecond > 0)) throw new TypeError('portal.drainPerSecond must be a number > 0');
  if (!(Number.isInteger(burst) && burst >= 1)) throw new TypeError('portal.burst must be a positive integer');
  return { drainPerSecond, burst };
}

class PortalBucket {
  constructor(config) {
    this.configure(config);
  }

  /** New settings start from an empty bucket. */
  configure(config) {
    this.config = checkPortal(config);
    this.reset();
  }

  reset() {
    this.level = 0;
    this.at = null;
  }

  get enabled() {
    return this.config !== false;
  }

  drain(now) {
    if (this.at !== null && now > this.at) {
      this.level = Math.max(0, this.level - ((now - this.at) / 1000) * this.config.drainPerSecond);
    }
    if (this.at === null || now > this.at) this.at = now;
  }

  /** True when the request fits (and is counted); always true while the model is off. */
  take(now = Date.now()) {
    if (!this.enabled) return true;
    this.drain(now);
    // A little slack for float drift: a bucket drained for exactly 1/rate s has room for one more.
    if (this.level + 1 > this.config.burst + 1e-9) return false;
    this.level += 1;
    return true;
  }

  /** { drainPerSecond, burst, level } at `now`, or null while off. Does not count anything. */
  state(now = Date.now()) {
    if (!this.enabled) return null;
    this.drain(now);
    return { ...this.config, level: this.level };
  }
}

module.exports = { PortalBucket, checkPortal };
