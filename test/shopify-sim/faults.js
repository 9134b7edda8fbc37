'use strict';
// Fault injection, decided per GraphQL request with a seeded PRNG (one draw per request).
// bulkQuery (not drawn): 'FAILED' | 'TIMEOUT' | 'CANCELED' | 'STALL' makes every bulk query operation
// started while it is set end that way (state/bulk.js); null = none.
const { prng } = require('./util');

const KINDS = ['error500', 'error503', 'error429', 'hang', 'reset', 'applyThenDrop'];

class Faults {
  constructor() { this.set({}); }
  // replaces the whole fault configuration; the PRNG keeps its state unless a seed is given
  set(cfg) {
    cfg = cfg || {};
    const seed = this.cfg ? this.cfg.seed : 1;
    this.cfg = { error500: 0, error503: 0, error429: 0, hang: 0, reset: 0, applyThenDrop: 0, latencyMs: 0, operations: null, bulkQuery: null, seed };
    this.update(cfg);
  }
  update(cfg) {
    for (const k of KINDS.concat(['latencyMs'])) if (cfg[k] !== undefined) this.cfg[k] = Number(cfg[k]) || 0;
    if (cfg.bulkQuery !== undefined) this.cfg.bulkQuery = cfg.bulkQuery ? String(cfg.bulkQuery).toUpperCase() : null;
    if (cfg.operations !== undefined) this.cfg.operations = cfg.operations && cfg.operations.length ? cfg.operations.slice() : null;
    if (cfg.seed !== undefined || !this.rand) { if (cfg.seed !== undefined) this.cfg.seed = Number(cfg.seed); this.rand = prng(this.cfg.seed); }
  }
  applies(rootFields) {
    if (!this.cfg.operations) return !rootFields.includes('oauth');
    return rootFields.some((f) => this.cfg.operations.includes(f));
  }
  // returns a fault kind or null
  decide(rootFields) {
    if (!this.applies(rootFields)) return null;
    const total = KINDS.reduce((s, k) => s + this.cfg[k], 0);
    if (total <= 0) return null;
    const r = this.rand();
    let acc = 0;
    for (const k of KINDS) { acc += this.cfg[k]; if (r < acc) return k; }
    return null;
  }
  latency(rootFields) { return this.applies(rootFields) ? this.cfg.latencyMs : 0; }
  toJSON() { return Object.assign({}, this.cfg); }
}

module.exports = { Faults, KINDS };
