'use strict';
// Leaky bucket per shop+app: currentlyAvailable restores at restoreRate/s up to maximumAvailable.
const PLANS = { standard: { max: 2000, rate: 100 }, plus: { max: 20000, rate: 1000 } };

function parsePlan(p) {
  if (p == null) return null;
  if (typeof p === 'object') {
    const max = Number(p.max ?? p.maximumAvailable); const rate = Number(p.rate ?? p.restoreRate);
    if (!(max > 0) || !(rate > 0)) throw new Error('plan needs positive max and rate');
    return { name: 'custom', max, rate };
  }
  const s = String(p);
  if (PLANS[s]) return Object.assign({ name: s }, PLANS[s]);
  const m = /^custom:(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(s);
  if (m) return { name: 'custom', max: Number(m[1]), rate: Number(m[2]) };
  throw new Error(`unknown plan ${s} (standard|plus|custom:MAX:RATE)`);
}

class Bucket {
  constructor(plan, now) {
    this.now = now || (() => Date.now());
    this.setPlan(plan);
  }
  setPlan(plan) {
    this.plan = plan;
    this.available = plan.max;
    this.t = this.now();
  }
  refill() {
    const t = this.now();
    const dt = Math.max(0, t - this.t) / 1000;
    this.available = Math.min(this.plan.max, this.available + dt * this.plan.rate);
    this.t = t;
  }
  tryTake(n) {
    this.refill();
    if (n > this.available) return false;
    this.available -= n;
    return true;
  }
  refund(n) { this.refill(); this.available = Math.min(this.plan.max, this.available + n); }
  retryAfterSeconds(n) { this.refill(); return Math.max(1, Math.ceil((n - this.available) / this.plan.rate)); }
  status() {
    this.refill();
    return { maximumAvailable: this.plan.max, currentlyAvailable: Math.floor(this.available), restoreRate: this.plan.rate };
  }
}

module.exports = { Bucket, parsePlan, PLANS };
