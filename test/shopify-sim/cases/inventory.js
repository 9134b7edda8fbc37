'use strict';
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET, SET_QTY, sizeProduct, levelOf } = require('./helpers');

let t; let loc; let items;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => {
  await t.ctl('reset', {});
  loc = await t.defaultLocation();
  const a = await t.data(PRODUCT_SET, { input: sizeProduct(['S', 'M']) });
  items = a.productSet.product.variants.nodes.map((v) => v.inventoryItem.id);
});

const q = (item, quantity, cfq, l) => ({ inventoryItemId: item, locationId: l || loc, quantity, changeFromQuantity: cfq });

test('set on_hand with compare-and-set; changes report available and on_hand', async () => {
  const r = await t.data(SET_QTY, { key: 'k1', input: { name: 'on_hand', reason: 'correction', referenceDocumentUri: 'gid://pos-sync/Snapshot/1', quantities: [q(items[0], 10, 0)] } });
  const g = r.inventorySetQuantities.inventoryAdjustmentGroup;
  assert.match(g.id, /^gid:\/\/shopify\/InventoryAdjustmentGroup\/\d+$/);
  assert.deepEqual(g.changes.map((c) => [c.name, c.delta, c.quantityAfterChange]), [['on_hand', 10, 10], ['available', 10, 10]]);
  assert.deepEqual(await levelOf(t, items[0], loc), { available: 10, on_hand: 10, committed: 0 });
});

test('stale changeFromQuantity -> CHANGE_FROM_QUANTITY_STALE and nothing applied (all-or-nothing)', async () => {
  await t.data(SET_QTY, { key: 'a', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 5, null), q(items[1], 5, null)] } });
  const r = await t.data(SET_QTY, { key: 'b', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 8, 5), q(items[1], 9, 4)] } });
  assert.equal(r.inventorySetQuantities.inventoryAdjustmentGroup, null);
  assert.equal(r.inventorySetQuantities.userErrors.length, 1);
  assert.equal(r.inventorySetQuantities.userErrors[0].code, 'CHANGE_FROM_QUANTITY_STALE');
  assert.deepEqual(r.inventorySetQuantities.userErrors[0].field, ['input', 'quantities', '1', 'changeFromQuantity']);
  assert.equal((await levelOf(t, items[0], loc)).on_hand, 5);
  assert.equal((await levelOf(t, items[1], loc)).on_hand, 5);
});

test('idempotent replay returns the first result without applying twice; other input -> mismatch', async () => {
  const vars = { key: 'same-key', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 3, 0)] } };
  const r1 = await t.data(SET_QTY, vars);
  // drift happens in between (e.g. an online sale) - a replay must not re-apply
  await t.ctl('tamper', { op: 'setOnHand', inventoryItemId: items[0], locationId: loc, quantity: 2 });
  const r2 = await t.data(SET_QTY, vars);
  assert.deepEqual(r2, r1);
  assert.equal((await levelOf(t, items[0], loc)).on_hand, 2);
  const r3 = await t.data(SET_QTY, { key: 'same-key', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 4, 2)] } });
  assert.equal(r3.inventorySetQuantities.userErrors[0].code, 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
  const c = await t.ctl('counters');
  assert.equal(c.idempotentReplays, 1);
  assert.equal((await t.ctl('state')).idempotencyKeys, 1);
});

test('idempotency key via literal works too', async () => {
  const m = `mutation { inventorySetQuantities(input: {name: "available", reason: "correction", quantities: [{inventoryItemId: "${items[0]}", locationId: "${loc}", quantity: 6, changeFromQuantity: null}]}) @idempotent(key: "lit-1") { inventoryAdjustmentGroup { id } userErrors { code } } }`;
  const a = await t.data(m); const b = await t.data(m);
  assert.equal(a.inventorySetQuantities.inventoryAdjustmentGroup.id, b.inventorySetQuantities.inventoryAdjustmentGroup.id);
});

test('duplicate item+location pair, unknown item, invalid name, not stocked', async () => {
  const dup = await t.data(SET_QTY, { key: 'd', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 1, null), q(items[0], 2, null)] } });
  assert.equal(dup.inventorySetQuantities.userErrors[0].code, 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR');
  const unk = await t.data(SET_QTY, { key: 'u', input: { name: 'on_hand', reason: 'correction', quantities: [q('gid://shopify/InventoryItem/42', 1, null)] } });
  assert.equal(unk.inventorySetQuantities.userErrors[0].code, 'INVALID_INVENTORY_ITEM');
  const nm = await t.data(SET_QTY, { key: 'n', input: { name: 'committed', reason: 'correction', quantities: [q(items[0], 1, null)] } });
  assert.equal(nm.inventorySetQuantities.userErrors[0].code, 'INVALID_NAME');
  const rs = await t.data(SET_QTY, { key: 'r', input: { name: 'on_hand', reason: 'because', quantities: [q(items[0], 1, null)] } });
  assert.equal(rs.inventorySetQuantities.userErrors[0].code, 'INVALID_REASON');
  const added = await t.data('mutation { locationAdd(input: {name: "Branch 2", address: {countryCode: NZ}}) { location { id } } }');
  const loc2 = added.locationAdd.location.id;
  const ns = await t.data(SET_QTY, { key: 's', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 1, null, loc2)] } });
  assert.equal(ns.inventorySetQuantities.userErrors[0].code, 'INVALID_LOCATION');
  // activate, then it works
  const act = await t.data('mutation($i: ID!, $l: ID!) { inventoryActivate(inventoryItemId: $i, locationId: $l) @idempotent(key: "act-1") { inventoryLevel { id quantities(names: ["available"]) { quantity } } userErrors { message } } }', { i: items[0], l: loc2 });
  assert.match(act.inventoryActivate.inventoryLevel.id, /^gid:\/\/shopify\/InventoryLevel\/\d+\?inventory_item_id=\d+$/);
  const ok = await t.data(SET_QTY, { key: 's2', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 1, 0, loc2)] } });
  assert.deepEqual(ok.inventorySetQuantities.userErrors, []);
});

test('name available keeps committed: on_hand = available + committed', async () => {
  await t.ctl('tamper', { op: 'setCommitted', inventoryItemId: items[0], locationId: loc, quantity: 2 });
  await t.data(SET_QTY, { key: 'av', input: { name: 'available', reason: 'correction', quantities: [q(items[0], 5, -2)] } });
  assert.deepEqual(await levelOf(t, items[0], loc), { available: 5, on_hand: 7, committed: 2 });
  await t.data(SET_QTY, { key: 'oh', input: { name: 'on_hand', reason: 'correction', quantities: [q(items[0], 4, 7)] } });
  assert.deepEqual(await levelOf(t, items[0], loc), { available: 2, on_hand: 4, committed: 2 });
});

test('inventoryBulkToggleActivation and inventoryItems/levels queries', async () => {
  const added = await t.data('mutation { locationAdd(input: {name: "Branch 3", address: {countryCode: NZ}}) { location { id } } }');
  const loc3 = added.locationAdd.location.id;
  const r = await t.data('mutation($i: ID!, $u: [InventoryBulkToggleActivationInput!]!) { inventoryBulkToggleActivation(inventoryItemId: $i, inventoryItemUpdates: $u) { inventoryLevels { location { id } } userErrors { code } } }',
    { i: items[1], u: [{ locationId: loc3, activate: true }] });
  assert.equal(r.inventoryBulkToggleActivation.inventoryLevels[0].location.id, loc3);
  const d = await t.data('{ inventoryItems(first: 5, query: "sku:SHIRT-M") { nodes { id sku tracked variant { sku } inventoryLevels(first: 5) { nodes { location { id } quantities(names: ["on_hand"]) { quantity } } } } } }');
  assert.equal(d.inventoryItems.nodes.length, 1);
  assert.equal(d.inventoryItems.nodes[0].inventoryLevels.nodes.length, 2);
  const off = await t.data('mutation($i: ID!, $u: [InventoryBulkToggleActivationInput!]!) { inventoryBulkToggleActivation(inventoryItemId: $i, inventoryItemUpdates: $u) { userErrors { code } } }',
    { i: items[0], u: [{ locationId: loc, activate: false }] });
  assert.equal(off.inventoryBulkToggleActivation.userErrors[0].code, 'CANNOT_DEACTIVATE_FROM_ONLY_LOCATION');
});

test('inventoryAdjustQuantities applies deltas with CAS', async () => {
  const m = 'mutation($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $input) @idempotent(key: "adj-1") { inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } userErrors { code } } }';
  const r = await t.data(m, { input: { name: 'available', reason: 'received', changes: [{ inventoryItemId: items[0], locationId: loc, delta: 4, changeFromQuantity: 0 }] } });
  assert.deepEqual(r.inventoryAdjustQuantities.inventoryAdjustmentGroup.changes[0], { name: 'available', delta: 4, quantityAfterChange: 4 });
});

test('inventoryItemUpdate sets tracked and sku', async () => {
  const r = await t.data('mutation($id: ID!) { inventoryItemUpdate(id: $id, input: {tracked: false, sku: "NEW-SKU", cost: "3.50"}) { inventoryItem { tracked sku unitCost { amount } } userErrors { message } } }', { id: items[0] });
  assert.deepEqual(r.inventoryItemUpdate.inventoryItem, { tracked: false, sku: 'NEW-SKU', unitCost: { amount: '3.50' } });
});
