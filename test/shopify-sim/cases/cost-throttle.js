'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET, sizeProduct } = require('./helpers');

const servers = [];
after(async () => { for (const s of servers) await s.close(); });
const mk = async (o) => { const s = await start(o); servers.push(s); return s; };

test('requested cost arithmetic (objects 1, connections 2 + n*node, scalars 0)', async () => {
  const t = await mk();
  const cost = async (q, v) => (await t.gql(q, v)).body.extensions.cost.requestedQueryCost;
  assert.equal(await cost('{ shop { name currencyCode } }'), 1);
  assert.equal(await cost('{ products(first: 10) { nodes { id title } pageInfo { hasNextPage } } }'), 12);
  assert.equal(await cost('{ products(first: 10) { edges { cursor node { id variants(first: 5) { nodes { id } } } } } }'), 82);
  assert.equal(await cost('{ locations(first: 5) { nodes { id address { city } } } }'), 12);
  assert.equal(await cost('query($id: ID!) { inventoryItem(id: $id) { id inventoryLevel(locationId: $id) { quantities(names: ["available"]) { name quantity } } } }', { id: 'gid://shopify/InventoryItem/1' }), 3);
});

test('mutation cost: 10 + productSet dynamic cost + payload selection; actual <= requested and refunded', async () => {
  const t = await mk();
  const input = sizeProduct(['S', 'M', 'L'], { metafields: [{ namespace: 'pos', key: 'product_id', type: 'id', value: 'P1' }] });
  const r = await t.gql('mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } userErrors { field } } }', { input });
  // 10 + 0.2*3 + 0.4*1 = 11, product 1, userErrors 1
  assert.equal(r.body.extensions.cost.requestedQueryCost, 13);
  assert.equal(r.body.extensions.cost.actualQueryCost, 12);
  const r2 = await t.gql(PRODUCT_SET, { input: sizeProduct(['S']) });
  // 10 + 0.2 + product 1 + metafields(2+10*1) + variants(2 + 50*(1 + selectedOptions 1 + inventoryItem 1)) + userErrors 1 -> ceil
  assert.equal(r2.body.extensions.cost.requestedQueryCost, 177);
  assert.ok(r2.body.extensions.cost.actualQueryCost < 30);
  const ts = r2.body.extensions.cost.throttleStatus;
  assert.deepEqual([ts.maximumAvailable, ts.restoreRate], [2000, 100]);
  const c = await t.ctl('counters');
  assert.equal(c.costSpent, 12 + r2.body.extensions.cost.actualQueryCost);
});

test('MAX_COST_EXCEEDED above 1000, nothing executed or charged', async () => {
  const t = await mk();
  const r = await t.gql('{ products(first: 250) { nodes { id variants(first: 250) { nodes { id } } } } }');
  assert.equal(r.status, 200);
  assert.equal(r.body.errors[0].extensions.code, 'MAX_COST_EXCEEDED');
  assert.match(r.body.errors[0].message, /^Query cost is 63252, which exceeds the single query max cost limit \(1000\)/);
  assert.equal(r.body.extensions.cost.requestedQueryCost, 63252);
  assert.equal(r.body.extensions.cost.throttleStatus.currentlyAvailable, 2000);
  assert.equal(r.body.data, undefined);
});

test('leaky bucket: THROTTLED when requested > currentlyAvailable (tiny custom plan)', async () => {
  const t = await mk({ plan: 'custom:10:0.01' }); // restores 0.01/s: negligible during the test
  const q = '{ locations(first: 1) { nodes { id } } }'; // requested 3 == actual 3
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push((await t.gql(q)).body);
  assert.deepEqual(seen.slice(0, 3).map((b) => b.extensions.cost.throttleStatus.currentlyAvailable), [7, 4, 1]);
  assert.equal(seen[3].errors[0].extensions.code, 'THROTTLED');
  assert.equal(seen[3].errors[0].message, 'Throttled');
  assert.equal(seen[3].data, undefined);
  assert.equal(seen[3].extensions.cost.actualQueryCost, null);
  assert.equal((await t.ctl('counters')).throttled, 1);
  // optional HTTP 429 + Retry-After
  await t.ctl('config', { throttle429: true });
  const r = await t.gql(q);
  assert.equal(r.status, 429);
  // ceil((3 - ~1) / 0.01) seconds
  assert.ok(Number(r.headers.get('retry-after')) >= 150 && Number(r.headers.get('retry-after')) <= 200, r.headers.get('retry-after'));
  // plans can be switched at run time
  await t.ctl('config', { plan: 'plus' });
  const p = await t.gql('{ shop { name } }');
  const ts = p.body.extensions.cost.throttleStatus;
  assert.deepEqual([ts.maximumAvailable, ts.restoreRate], [20000, 1000]);
  assert.ok(ts.currentlyAvailable >= 19999);
});

test('bucket restores at restoreRate per second', async () => {
  const t = await mk({ plan: { max: 100, rate: 50 } });
  await t.gql('{ locations(first: 30) { nodes { id address { city } } } }'); // requested 62, actual 4
  const b = (await t.gql('{ shop { name } }')).body.extensions.cost.throttleStatus.currentlyAvailable;
  assert.ok(b >= 95 && b <= 100, String(b));
  const t2 = await mk({ plan: 'custom:20:10' });
  for (let i = 0; i < 6; i++) await t2.gql('{ locations(first: 1) { nodes { id } } }');
  const low = (await t2.gql('{ shop { name } }')).body.extensions.cost.throttleStatus.currentlyAvailable;
  await new Promise((r) => setTimeout(r, 500));
  const high = (await t2.gql('{ shop { name } }')).body.extensions.cost.throttleStatus.currentlyAvailable;
  assert.ok(high - low >= 3, `${low} -> ${high}`);
});

test('fragments on an abstract type cost the most expensive alternative; nodes(ids) per id', async () => {
  const t = await mk();
  const r = await t.gql('query($id: ID!) { node(id: $id) { id ... on Product { title options { name } } ... on Customer { email } } }', { id: 'gid://shopify/Product/1' });
  assert.equal(r.body.extensions.cost.requestedQueryCost, 2); // node 1 + max(Product: options 1, Customer: 0)
  const r2 = await t.gql('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['gid://shopify/Product/1', 'gid://shopify/Product/2', 'gid://shopify/Product/3'] });
  assert.equal(r2.body.extensions.cost.requestedQueryCost, 3);
});
