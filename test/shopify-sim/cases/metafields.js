'use strict';
// Metafields on products: productSet's list replaces (entries not sent are deleted, whoever made
// them) when present and leaves them alone when absent; metafieldsSet / metafieldsDelete touch
// only the entries named.
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.ctl('reset', {}); });

const cid = { namespace: 'kcloud', key: 'style_code', value: 'S1' };
const cidMf = { namespace: 'kcloud', key: 'style_code', type: 'id', value: 'S1' };
const ours = { namespace: 'kcloud_attr', key: 'fabric', type: 'single_line_text_field', value: 'linen' };
const merchant = { namespace: 'custom', key: 'care_guide', type: 'multi_line_text_field', value: 'Wash cold\nDry flat' };
const SET = 'mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { metafields { namespace key value } userErrors { field code message } } }';
const DEL = 'mutation($m: [MetafieldIdentifierInput!]!) { metafieldsDelete(metafields: $m) { deletedMetafields { ownerId namespace key } userErrors { field message } } }';
const keysOf = (p) => p.metafields.nodes.map((m) => `${m.namespace}.${m.key}`).sort();

async function product() {
  const a = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Shirt', metafields: [cidMf, ours] } });
  assert.deepEqual(a.productSet.userErrors, []);
  const id = a.productSet.product.id;
  const s = await t.data(SET, { m: [Object.assign({ ownerId: id }, merchant)] });
  assert.deepEqual(s.metafieldsSet.userErrors, []);
  return id;
}

test('productSet by id without metafields keeps every metafield (ours and the merchant\'s)', async () => {
  const id = await product();
  const b = await t.data(PRODUCT_SET, { identifier: { id }, input: { title: 'Shirt v2' } });
  assert.deepEqual(b.productSet.userErrors, []);
  assert.equal(b.productSet.product.title, 'Shirt v2');
  assert.deepEqual(keysOf(b.productSet.product), ['custom.care_guide', 'kcloud.style_code', 'kcloud_attr.fabric']);
});

test('productSet with a metafields list deletes the ones not listed, the merchant\'s included', async () => {
  const id = await product();
  const b = await t.data(PRODUCT_SET, { identifier: { id }, input: { title: 'Shirt v2', metafields: [cidMf] } });
  assert.deepEqual(b.productSet.userErrors, []);
  assert.deepEqual(keysOf(b.productSet.product), ['kcloud.style_code']);
});

test('metafieldsDelete: deletes the named ones only; null for one that is not there', async () => {
  const id = await product();
  const d = await t.data(DEL, { m: [{ ownerId: id, namespace: 'kcloud_attr', key: 'fabric' },
    { ownerId: id, namespace: 'kcloud_attr', key: 'never_was' },
    { ownerId: 'gid://shopify/Product/999999', namespace: 'kcloud_attr', key: 'fabric' }] });
  assert.deepEqual(d.metafieldsDelete.userErrors, []);
  assert.deepEqual(d.metafieldsDelete.deletedMetafields, [{ ownerId: id, namespace: 'kcloud_attr', key: 'fabric' }, null, null]);
  const st = await t.ctl('state');
  assert.deepEqual(st.products[0].metafields.map((m) => `${m.namespace}.${m.key}`).sort(), ['custom.care_guide', 'kcloud.style_code']);
  // again: nothing left to delete, still no error
  const again = await t.data(DEL, { m: [{ ownerId: id, namespace: 'kcloud_attr', key: 'fabric' }] });
  assert.deepEqual(again.metafieldsDelete.deletedMetafields, [null]);
});

test('metafieldsDelete is validated against the schema (namespace is required)', async () => {
  const id = await product();
  const r = await t.gql(DEL, { m: [{ ownerId: id, key: 'fabric' }] });
  assert.ok(r.body.errors && r.body.errors.length > 0, JSON.stringify(r.body));
  const st = await t.ctl('state');
  assert.equal(st.products[0].metafields.length, 3);
});

test('metafieldsSet and metafieldsDelete cost 10 + selection each, like any mutation', async () => {
  const id = await product();
  const q = `mutation($a: [MetafieldsSetInput!]!, $d: [MetafieldIdentifierInput!]!) {
    m0: metafieldsSet(metafields: $a) { userErrors { field message code } }
    d0: metafieldsDelete(metafields: $d) { userErrors { field message } } }`;
  const r = await t.gql(q, { a: [Object.assign({ ownerId: id }, ours, { value: 'wool' })], d: [{ ownerId: id, namespace: 'custom', key: 'nope' }] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data.m0.userErrors, []);
  assert.equal(r.body.extensions.cost.requestedQueryCost, 22);
});
