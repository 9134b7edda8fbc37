'use strict';
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.ctl('reset', {}); });

const CREATE = 'mutation { productSet(input: {title: "Fault test"}) { product { id } userErrors { code } } }';
const products = async () => (await t.ctl('state')).products.length;
const only = (kind, extra) => t.ctl('config', { faults: Object.assign({ [kind]: 1, operations: ['productSet'] }, extra || {}) });

test('error500 / error503: Shopify-like body, nothing applied', async () => {
  await only('error500');
  const r = await t.gql(CREATE);
  assert.equal(r.status, 500);
  assert.equal(r.body.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
  await t.ctl('config', { faults: { error500: 0, error503: 1 } });
  const r2 = await t.gql(CREATE);
  assert.equal(r2.status, 503);
  assert.equal(await products(), 0);
  const c = await t.ctl('counters');
  assert.equal(c.faults.error500, 1);
  assert.equal(c.faults.error503, 1);
});

test('error429: HTTP 429 with Retry-After, nothing applied', async () => {
  await only('error429');
  const r = await t.gql(CREATE);
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(await products(), 0);
});

test('operations filter: other root fields are not faulted; /_sim/ never is', async () => {
  await only('error500');
  const r = await t.gql('{ shop { name } }');
  assert.equal(r.status, 200);
  assert.equal((await t.ctl('counters')).faults.error500, 0);
});

test('hang: never answers; the client gives up', async () => {
  await only('hang');
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 300);
  const t0 = Date.now();
  await assert.rejects(t.gql(CREATE, undefined, { signal: ac.signal }), (e) => e.name === 'AbortError');
  clearTimeout(timer);
  assert.ok(Date.now() - t0 >= 290);
  assert.equal(await products(), 0);
  assert.equal((await t.ctl('counters')).faults.hang, 1);
});

test('reset: connection destroyed before anything is applied', async () => {
  await only('reset');
  await assert.rejects(t.gql(CREATE));
  assert.equal(await products(), 0);
  assert.equal((await t.ctl('counters')).faults.reset, 1);
});

test('applyThenDrop: mutation applied, connection dropped without an answer', async () => {
  await only('applyThenDrop');
  await assert.rejects(t.gql(CREATE));
  assert.equal(await products(), 1);
  const c = await t.ctl('counters');
  assert.equal(c.faults.applyThenDrop, 1);
  assert.equal(c.mutationsApplied, 1);
});

test('latencyMs delays the answer', async () => {
  await t.ctl('config', { faults: { latencyMs: 250 } });
  const t0 = Date.now();
  const r = await t.gql('{ shop { name } }');
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 >= 240);
});

test('fractions are drawn from a seeded PRNG: same seed, same sequence', async () => {
  const run = async () => {
    await t.ctl('reset', {});
    await t.ctl('config', { faults: { error500: 0.3, error503: 0.2, seed: 42 } });
    const out = [];
    for (let i = 0; i < 20; i++) out.push((await t.gql('{ shop { name } }')).status);
    return out;
  };
  const a = await run(); const b = await run();
  assert.deepEqual(a, b);
  assert.ok(a.includes(500) && a.includes(200), a.join(','));
  await t.ctl('reset', {});
  const r = await t.gql('{ shop { name } }');
  assert.equal(r.status, 200, 'reset clears faults');
});
