'use strict';
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET, SET_QTY, sizeProduct } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.ctl('reset', {}); });

const ADD = 'mutation($input: LocationAddInput!) { locationAdd(input: $input) { location { id name isActive fulfillsOnlineOrders address { city countryCode country } } userErrors { field message code } } }';
const DEACT = 'mutation($id: ID!, $dest: ID, $k: String!) { locationDeactivate(locationId: $id, destinationLocationId: $dest) @idempotent(key: $k) { location { id isActive } locationDeactivateUserErrors { code message } } }';
const ACT = 'mutation($id: ID!, $k: String!) { locationActivate(locationId: $id) @idempotent(key: $k) { location { id isActive } locationActivateUserErrors { code } } }';

test('default location exists after start and reset', async () => {
  const d = await t.data('{ locations(first: 5) { nodes { name isActive fulfillsOnlineOrders } } }');
  assert.deepEqual(d.locations.nodes, [{ name: 'Shop location', isActive: true, fulfillsOnlineOrders: true }]);
});

test('locationAdd / TAKEN / locationEdit / deactivate / activate / includeInactive', async () => {
  const a = await t.data(ADD, { input: { name: 'Wellington', address: { countryCode: 'NZ', city: 'Wellington' }, fulfillsOnlineOrders: false, metafields: [{ namespace: 'pos', key: 'branch_id', type: 'id', value: 'B2' }] } });
  const loc = a.locationAdd.location;
  assert.equal(loc.address.country, 'New Zealand');
  const dup = await t.data(ADD, { input: { name: 'wellington', address: { countryCode: 'NZ' } } });
  assert.equal(dup.locationAdd.userErrors[0].code, 'TAKEN');
  const e = await t.data('mutation($id: ID!) { locationEdit(id: $id, input: {name: "Wellington CBD", address: {city: "Te Aro"}}) { location { name address { city } } userErrors { code } } }', { id: loc.id });
  assert.deepEqual(e.locationEdit.location, { name: 'Wellington CBD', address: { city: 'Te Aro' } });
  const d = await t.data(DEACT, { id: loc.id, k: 'd1' });
  assert.equal(d.locationDeactivate.location.isActive, false);
  const l1 = await t.data('{ locations(first: 5) { nodes { name } } }');
  assert.equal(l1.locations.nodes.length, 1);
  const l2 = await t.data('{ locations(first: 5, includeInactive: true) { nodes { name isActive } } }');
  assert.equal(l2.locations.nodes.length, 2);
  const r = await t.data(ACT, { id: loc.id, k: 'a1' });
  assert.equal(r.locationActivate.location.isActive, true);
  const byCid = await t.data('{ locationByIdentifier(identifier: {customId: {namespace: "pos", key: "branch_id", value: "B2"}}) { name } }');
  assert.equal(byCid.locationByIdentifier.name, 'Wellington CBD');
});

test('deactivate with stock needs a destination; only online-fulfilling location cannot be deactivated', async () => {
  const shop = await t.defaultLocation();
  const a = await t.data(ADD, { input: { name: 'Branch', address: { countryCode: 'NZ' } } });
  const loc = a.locationAdd.location.id;
  const p = await t.data(PRODUCT_SET, { input: sizeProduct(['M']) });
  const item = p.productSet.product.variants.nodes[0].inventoryItem.id;
  await t.data('mutation($i: ID!, $l: ID!) { inventoryActivate(inventoryItemId: $i, locationId: $l, onHand: 4) @idempotent(key: "x") { userErrors { message } } }', { i: item, l: loc });
  const d = await t.data(DEACT, { id: loc, k: 'd1' });
  assert.equal(d.locationDeactivate.locationDeactivateUserErrors[0].code, 'HAS_ACTIVE_INVENTORY_ERROR');
  const d2 = await t.data(DEACT, { id: loc, dest: shop, k: 'd2' });
  assert.equal(d2.locationDeactivate.location.isActive, false);
  const st = await t.ctl('state');
  assert.equal(st.inventoryLevels.find((l) => l.inventoryItemId === item && l.locationId === shop).on_hand, 4);
  const d3 = await t.data(DEACT, { id: shop, k: 'd3' });
  assert.equal(d3.locationDeactivate.locationDeactivateUserErrors[0].code, 'CANNOT_DISABLE_ONLINE_ORDER_FULFILLMENT');
  void SET_QTY;
});

const CSET = `mutation($identifier: CustomerSetIdentifiers, $input: CustomerSetInput!) {
  customerSet(identifier: $identifier, input: $input) {
    customer { id email phone firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } addressesV2(first: 5) { nodes { city countryCodeV2 } } }
    userErrors { field message code }
  }
}`;

test('customerSet upserts by email and phone; addresses replace', async () => {
  const a = await t.data(CSET, { identifier: { email: 'ana@example.com' }, input: { firstName: 'Ana', lastName: 'Silva', addresses: [{ city: 'Auckland', countryCode: 'NZ' }] } });
  const c = a.customerSet.customer;
  assert.equal(c.email, 'ana@example.com');
  assert.equal(c.defaultEmailAddress.emailAddress, 'ana@example.com');
  const b = await t.data(CSET, { identifier: { email: 'ana@example.com' }, input: { email: 'ana@example.com', phone: '+64211234567', addresses: [{ city: 'Hamilton', countryCode: 'NZ' }] } });
  assert.equal(b.customerSet.customer.id, c.id);
  assert.deepEqual(b.customerSet.customer.addressesV2.nodes, [{ city: 'Hamilton', countryCodeV2: 'NZ' }]);
  assert.equal(b.customerSet.customer.firstName, 'Ana');
  const byPhone = await t.data(CSET, { identifier: { phone: '+64211234567' }, input: { lastName: 'Costa' } });
  assert.equal(byPhone.customerSet.customer.id, c.id);
  const none = await t.data(CSET, { input: { firstName: 'New' } });
  assert.notEqual(none.customerSet.customer.id, c.id);
});

test('customerSet TAKEN, INPUT_MISMATCH, NOT_FOUND; customers query; customerByIdentifier', async () => {
  await t.data(CSET, { input: { email: 'a@example.com', phone: '+64210000001', firstName: 'A' } });
  const b = await t.data(CSET, { input: { email: 'b@example.com', firstName: 'B' } });
  const taken = await t.data(CSET, { identifier: { email: 'b@example.com' }, input: { email: 'b@example.com', phone: '+64210000001' } });
  assert.equal(taken.customerSet.userErrors[0].code, 'TAKEN');
  const taken2 = await t.data(CSET, { identifier: { id: b.customerSet.customer.id }, input: { email: 'a@example.com' } });
  assert.equal(taken2.customerSet.userErrors[0].code, 'TAKEN');
  const mm = await t.data(CSET, { identifier: { email: 'b@example.com' }, input: { email: 'c@example.com' } });
  assert.equal(mm.customerSet.userErrors[0].code, 'INPUT_MISMATCH');
  const nf = await t.data(CSET, { identifier: { id: 'gid://shopify/Customer/5' }, input: { firstName: 'x' } });
  assert.equal(nf.customerSet.userErrors[0].code, 'NOT_FOUND');
  const q = await t.data('{ customers(first: 5, query: "email:b@example.com") { nodes { id } } }');
  assert.deepEqual(q.customers.nodes, [{ id: b.customerSet.customer.id }]);
  const q2 = await t.data('{ customerByIdentifier(identifier: {phoneNumber: "+64210000001"}) { firstName } }');
  assert.equal(q2.customerByIdentifier.firstName, 'A');
});

test('metafieldsSet: atomic, <= 25, owners, customId lookup for customers', async () => {
  const c = await t.data(CSET, { input: { email: 'm@example.com' } });
  const id = c.customerSet.customer.id;
  const M = 'mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { namespace key value type } userErrors { field code message } } }';
  const ok = await t.data(M, { m: [{ ownerId: id, namespace: 'pos', key: 'customer_id', type: 'id', value: 'C-1' }] });
  assert.deepEqual(ok.metafieldsSet.userErrors, []);
  const look = await t.data('{ customerByIdentifier(identifier: {customId: {namespace: "pos", key: "customer_id", value: "C-1"}}) { id metafield(namespace: "pos", key: "customer_id") { value } } }');
  assert.equal(look.customerByIdentifier.id, id);
  assert.equal(look.customerByIdentifier.metafield.value, 'C-1');
  const many = Array.from({ length: 26 }, (_, i) => ({ ownerId: id, namespace: 'pos', key: `k${i}`, type: 'single_line_text_field', value: 'v' }));
  const tooMany = await t.data(M, { m: many });
  assert.equal(tooMany.metafieldsSet.userErrors[0].code, 'LESS_THAN_OR_EQUAL_TO');
  const atomic = await t.data(M, { m: [{ ownerId: id, namespace: 'pos', key: 'a1', type: 'single_line_text_field', value: 'v' }, { ownerId: id, namespace: 'pos', key: 'n1', type: 'number_integer', value: 'x' }] });
  assert.equal(atomic.metafieldsSet.userErrors[0].code, 'INVALID_VALUE');
  const st = await t.ctl('state');
  assert.equal(st.customers[0].metafields.length, 1);
  const c2 = await t.data(CSET, { input: { email: 'n@example.com' } });
  const dupId = await t.data(M, { m: [{ ownerId: c2.customerSet.customer.id, namespace: 'pos', key: 'customer_id', type: 'id', value: 'C-1' }] });
  assert.equal(dupId.metafieldsSet.userErrors[0].code, 'TAKEN');
});
