'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, TOKEN, SET_QTY } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });

test('syntax errors are rejected with locations', async () => {
  const r = await t.gql('{ shop { name }');
  assert.equal(r.status, 200);
  assert.ok(r.body.errors[0].message.length > 0);
  assert.ok(r.body.errors[0].locations);
  assert.equal(r.body.data, undefined);
});

test('unknown fields are rejected by the real schema', async () => {
  const r = await t.gql('{ shop { name notAField } }');
  assert.match(r.body.errors[0].message, /Cannot query field "notAField" on type "Shop"/);
  assert.deepEqual(r.body.errors[0].extensions, { code: 'undefinedField', typeName: 'Shop', fieldName: 'notAField' });
});

test('compareQuantity (removed in 2026-04) is rejected', async () => {
  const r = await t.gql(`mutation { inventorySetQuantities(input: {name: "on_hand", reason: "correction",
    quantities: [{inventoryItemId: "gid://shopify/InventoryItem/1", locationId: "gid://shopify/Location/1", quantity: 1, compareQuantity: 0}]})
    @idempotent(key: "k1") { userErrors { code } } }`);
  assert.match(r.body.errors[0].message, /compareQuantity/);
  const r2 = await t.gql(`mutation { inventorySetQuantities(input: {name: "on_hand", reason: "correction", ignoreCompareQuantity: true,
    quantities: []}) @idempotent(key: "k1") { userErrors { code } } }`);
  assert.match(r2.body.errors[0].message, /ignoreCompareQuantity/);
});

test('two keys in a @oneOf identifier are rejected (literal and variable)', async () => {
  const r = await t.gql('mutation { productSet(identifier: {handle: "a", id: "gid://shopify/Product/1"}, input: {title: "x"}) { product { id } } }');
  assert.match(r.body.errors[0].message, /exactly one key/);
  const r2 = await t.gql('mutation($i: ProductSetIdentifiers) { productSet(identifier: $i, input: {title: "x"}) { product { id } } }',
    { i: { handle: 'a', customId: { namespace: 'pos', key: 'id', value: '1' } } });
  assert.equal(r2.body.errors[0].message, 'Variable $i of type ProductSetIdentifiers was provided invalid value');
  assert.match(r2.body.errors[0].extensions.problems[0].explanation, /Exactly one key/);
  assert.equal(r2.body.errors[0].extensions.code, 'INVALID_VARIABLE');
  const r3 = await t.gql('query($i: CustomerIdentifierInput!) { customerByIdentifier(identifier: $i) { id } }', { i: { emailAddress: 'a@b.c', phoneNumber: '+64211234567' } });
  assert.equal(r3.body.errors[0].extensions.code, 'INVALID_VARIABLE');
});

test('metafields on CustomerSetInput is rejected', async () => {
  const r = await t.gql('mutation($input: CustomerSetInput!) { customerSet(input: $input) { customer { id } } }', { input: { email: 'a@example.com', metafields: [] } });
  assert.equal(r.body.errors[0].extensions.code, 'INVALID_VARIABLE');
});

test('compareQuantity inside variables is rejected in Shopify\'s variable-error shape', async () => {
  const r = await t.gql('mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) @idempotent(key: "v1") { userErrors { code } } }',
    { input: { name: 'on_hand', reason: 'correction', quantities: [{ inventoryItemId: 'gid://shopify/InventoryItem/1', locationId: 'gid://shopify/Location/1', quantity: 1, compareQuantity: 0 }] } });
  const e = r.body.errors[0];
  assert.equal(e.message, 'Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.0.compareQuantity (Field is not defined on InventoryQuantityInput)');
  assert.equal(e.extensions.code, 'INVALID_VARIABLE');
  assert.deepEqual(e.extensions.problems[0].path, ['quantities', 0, 'compareQuantity']);
});

test('variable coercion errors are INVALID_VARIABLE', async () => {
  const r = await t.gql('query($id: ID!) { product(id: $id) { id } }', {});
  assert.equal(r.body.errors[0].extensions.code, 'INVALID_VARIABLE');
  assert.match(r.body.errors[0].message, /\$id/);
});

test('@idempotent is required at runtime on inventory/location/refund mutations', async () => {
  for (const q of [
    'mutation { inventorySetQuantities(input: {name: "on_hand", reason: "correction", quantities: []}) { userErrors { code } } }',
    'mutation { inventoryActivate(inventoryItemId: "gid://shopify/InventoryItem/1", locationId: "gid://shopify/Location/1") { userErrors { message } } }',
    'mutation { locationActivate(locationId: "gid://shopify/Location/1") { locationActivateUserErrors { code } } }',
    'mutation { locationDeactivate(locationId: "gid://shopify/Location/1") { locationDeactivateUserErrors { code } } }',
    'mutation { refundCreate(input: {orderId: "gid://shopify/Order/1"}) { userErrors { message } } }',
    'mutation { inventoryAdjustQuantities(input: {name: "available", reason: "correction", changes: []}) { userErrors { code } } }',
  ]) {
    const r = await t.gql(q);
    assert.equal(r.body.errors[0].message, 'The @idempotent directive is required for this mutation.', q);
    assert.equal(r.body.errors[0].extensions.code, 'BAD_REQUEST');
    assert.equal(r.body.data, undefined);
  }
});

test('missing changeFromQuantity is an error; explicit null is accepted', async () => {
  const loc = await t.defaultLocation();
  const p = await t.data('mutation { productSet(input: {title: "Cap"}) { product { variants(first: 1) { nodes { inventoryItem { id } } } } } }');
  const item = p.productSet.product.variants.nodes[0].inventoryItem.id;
  const r = await t.gql(SET_QTY, { key: 'cfq-1', input: { name: 'on_hand', reason: 'correction', quantities: [{ inventoryItemId: item, locationId: loc, quantity: 4 }] } });
  assert.equal(r.body.data.inventorySetQuantities.inventoryAdjustmentGroup, null);
  assert.equal(r.body.data.inventorySetQuantities.userErrors[0].code, 'COMPARE_QUANTITY_REQUIRED');
  assert.deepEqual(r.body.data.inventorySetQuantities.userErrors[0].field, ['input', 'quantities', '0', 'changeFromQuantity']);
  // literal form without the key
  const lit = await t.gql(`mutation { inventorySetQuantities(input: {name: "on_hand", reason: "correction", quantities: [{inventoryItemId: "${item}", locationId: "${loc}", quantity: 4}]}) @idempotent(key: "cfq-2") { userErrors { code } } }`);
  assert.equal(lit.body.data.inventorySetQuantities.userErrors[0].code, 'COMPARE_QUANTITY_REQUIRED');
  const ok = await t.gql(SET_QTY, { key: 'cfq-3', input: { name: 'on_hand', reason: 'correction', quantities: [{ inventoryItemId: item, locationId: loc, quantity: 4, changeFromQuantity: null }] } });
  assert.deepEqual(ok.body.data.inventorySetQuantities.userErrors, []);
});

test('input arrays above 250 elements are rejected', async () => {
  const loc = await t.defaultLocation();
  const quantities = Array.from({ length: 251 }, (_, i) => ({ inventoryItemId: `gid://shopify/InventoryItem/${i + 1}`, locationId: loc, quantity: 1, changeFromQuantity: null }));
  const r = await t.gql(SET_QTY, { key: 'big', input: { name: 'on_hand', reason: 'correction', quantities } });
  assert.equal(r.body.errors[0].extensions.code, 'MAX_INPUT_SIZE_EXCEEDED');
  assert.equal(r.body.data.inventorySetQuantities, null);
});

test('401 without or with a wrong token', async () => {
  const r = await t.gql('{ shop { name } }', undefined, { token: null });
  assert.equal(r.status, 401);
  assert.equal(r.body.errors, '[API] Invalid API key or access token (unrecognized login or wrong password)');
  const r2 = await t.gql('{ shop { name } }', undefined, { token: 'shpat_nope' });
  assert.equal(r2.status, 401);
});

test('API versions: old ones fall forward to 2026-10, garbage is 404', async () => {
  const r = await t.gql('{ shop { name } }', undefined, { version: '2024-01' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-shopify-api-version'), '2026-10');
  const r2 = await t.gql('{ shop { name } }', undefined, { version: 'banana' });
  assert.equal(r2.status, 404);
});

test('validation failures are counted', async () => {
  const before = (await t.ctl('counters')).validationFailures;
  await t.gql('{ nope }');
  const c = await t.ctl('counters');
  assert.equal(c.validationFailures, before + 1);
  assert.ok(c.requestsTotal > 0);
  void TOKEN;
});
