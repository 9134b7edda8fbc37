'use strict';
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET, sizeProduct, levelOf } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.ctl('reset', {}); });

const cid = { namespace: 'pos', key: 'product_id', value: 'P-1001' };
const cidMf = { namespace: 'pos', key: 'product_id', type: 'id', value: 'P-1001' };

test('customId upsert: create then update the same product', async () => {
  const a = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: sizeProduct(['M', 'L'], { metafields: [cidMf] }) });
  assert.deepEqual(a.productSet.userErrors, []);
  const p1 = a.productSet.product;
  assert.equal(p1.handle, 'linen-shirt');
  assert.equal(p1.variants.nodes.length, 2);
  const b = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: sizeProduct(['M', 'L'], { title: 'Linen shirt v2', metafields: [cidMf] }) });
  const p2 = b.productSet.product;
  assert.equal(p2.id, p1.id);
  assert.equal(p2.title, 'Linen shirt v2');
  // variants matched by option combination keep ids and inventory items
  assert.deepEqual(p2.variants.nodes.map((v) => v.id), p1.variants.nodes.map((v) => v.id));
  assert.deepEqual(p2.variants.nodes.map((v) => v.inventoryItem.id), p1.variants.nodes.map((v) => v.inventoryItem.id));
  const st = await t.ctl('state');
  assert.equal(st.products.length, 1);
  assert.deepEqual(st.products[0].customId, cid);
  const byId = await t.data('query($i: ProductIdentifierInput!) { productByIdentifier(identifier: $i) { id } }', { i: { customId: cid } });
  assert.equal(byId.productByIdentifier.id, p1.id);
});

test('customId without metafields input creates the id metafield; mismatching metafields -> METAFIELD_MISMATCH', async () => {
  const a = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Mug' } });
  assert.deepEqual(a.productSet.product.metafields.nodes, [{ namespace: 'pos', key: 'product_id', type: 'id', value: 'P-1001' }]);
  const b = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Mug', metafields: [{ namespace: 'pos', key: 'other', type: 'single_line_text_field', value: 'x' }] } });
  assert.equal(b.productSet.product, null);
  assert.equal(b.productSet.userErrors[0].code, 'METAFIELD_MISMATCH');
});

test('handle upsert, auto handle suffixing and HANDLE_NOT_UNIQUE', async () => {
  const a = await t.data(PRODUCT_SET, { identifier: { handle: 'mug' }, input: { title: 'Mug', vendor: 'Acme' } });
  const b = await t.data(PRODUCT_SET, { identifier: { handle: 'mug' }, input: { title: 'Mug 2' } });
  assert.equal(a.productSet.product.id, b.productSet.product.id);
  assert.equal(b.productSet.product.title, 'Mug 2');
  const c = await t.data(PRODUCT_SET, { input: { title: 'Mug' } });
  assert.equal(c.productSet.product.handle, 'mug-1');
  const d = await t.data(PRODUCT_SET, { input: { title: 'Other', handle: 'mug' } });
  assert.equal(d.productSet.userErrors[0].code, 'HANDLE_NOT_UNIQUE');
  const e = await t.data(PRODUCT_SET, { identifier: { handle: 'mug' }, input: { title: 'x', handle: 'cup' } });
  assert.equal(e.productSet.userErrors[0].code, 'INPUT_MISMATCH');
  // scalar fields omitted are unchanged
  const st = await t.ctl('state');
  assert.equal(st.products.find((p) => p.handle === 'mug').vendor, 'Acme');
});

test('identifier id: update only, NOT_FOUND when missing; ID_NOT_ALLOWED with input.id', async () => {
  const r = await t.data(PRODUCT_SET, { identifier: { id: 'gid://shopify/Product/999' }, input: { title: 'x' } });
  assert.equal(r.productSet.userErrors[0].code, 'NOT_FOUND');
  const r2 = await t.data(PRODUCT_SET, { identifier: { handle: 'x' }, input: { title: 'x', id: 'gid://shopify/Product/999' } });
  assert.equal(r2.productSet.userErrors[0].code, 'ID_NOT_ALLOWED');
});

test('replace-on-omit: variants not sent are deleted with their inventory items and levels', async () => {
  const loc = await t.defaultLocation();
  const a = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: sizeProduct(['S', 'M', 'L'], { metafields: [cidMf] }) });
  const ids = a.productSet.product.variants.nodes;
  assert.equal(ids.length, 3);
  const b = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: sizeProduct(['S', 'L'], { metafields: [cidMf] }) });
  assert.deepEqual(b.productSet.product.variants.nodes.map((v) => v.sku), ['SHIRT-S', 'SHIRT-L']);
  const st = await t.ctl('state');
  assert.equal(st.inventoryItems.length, 2);
  assert.ok(!st.inventoryItems.some((i) => i.id === ids[1].inventoryItem.id));
  assert.ok(!st.inventoryLevels.some((l) => l.inventoryItemId === ids[1].inventoryItem.id));
  const gone = await t.data('query($id: ID!) { productVariant(id: $id) { id } inventoryItem(id: $id) { id } }', { id: ids[1].id });
  assert.equal(gone.productVariant, null);
  void loc;
});

test('metafields: list replaces when present, untouched when omitted', async () => {
  const mfs = [cidMf, { namespace: 'pos', key: 'colour', type: 'single_line_text_field', value: 'blue' }];
  await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Hat', metafields: mfs } });
  const b = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Hat 2' } });
  assert.equal(b.productSet.product.metafields.nodes.length, 2);
  const c = await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'Hat 3', metafields: [cidMf] } });
  assert.deepEqual(c.productSet.product.metafields.nodes.map((m) => m.key), ['product_id']);
});

test('options and variants must travel together', async () => {
  const a = await t.data(PRODUCT_SET, { input: { title: 'T', variants: [{ optionValues: [{ optionName: 'Size', name: 'M' }] }] } });
  assert.equal(a.productSet.userErrors[0].code, 'PRODUCT_OPTIONS_INPUT_MISSING');
  const b = await t.data(PRODUCT_SET, { input: { title: 'T', productOptions: [{ name: 'Size', values: [{ name: 'M' }] }] } });
  assert.equal(b.productSet.userErrors[0].code, 'VARIANTS_INPUT_MISSING');
  const c = await t.data(PRODUCT_SET, { input: { title: 'T', productOptions: [{ name: 'Size', values: [{ name: 'M' }] }], variants: [{ optionValues: [{ optionName: 'Colour', name: 'M' }] }] } });
  assert.equal(c.productSet.userErrors[0].code, 'OPTION_DOES_NOT_EXIST');
});

test('inventoryQuantities on creation stock the variant; SKUs need not be unique', async () => {
  const loc = await t.defaultLocation();
  const input = sizeProduct(['M']);
  input.variants[0].inventoryQuantities = [{ locationId: loc, name: 'available', quantity: 7 }];
  const a = await t.data(PRODUCT_SET, { input });
  const item = a.productSet.product.variants.nodes[0].inventoryItem.id;
  assert.deepEqual(await levelOf(t, item, loc), { available: 7, on_hand: 7, committed: 0 });
  const dup = await t.data(PRODUCT_SET, { input: sizeProduct(['M'], { title: 'Other shirt' }) });
  assert.deepEqual(dup.productSet.userErrors, []);
  const q = await t.data('{ productVariants(first: 10, query: "sku:SHIRT-M") { nodes { id } } products(first: 10, query: "sku:SHIRT-M") { nodes { id } } }');
  assert.equal(q.productVariants.nodes.length, 2);
  assert.equal(q.products.nodes.length, 2);
});

test('inventoryQuantities for an existing variant only where stocked', async () => {
  const added = await t.data('mutation { locationAdd(input: {name: "Branch 2", address: {countryCode: NZ}}) { location { id } userErrors { code } } }');
  const loc2 = added.locationAdd.location.id;
  const a = await t.data(PRODUCT_SET, { identifier: { handle: 'linen-shirt' }, input: sizeProduct(['M']) });
  const v = a.productSet.product.variants.nodes[0];
  const input = sizeProduct(['M']);
  input.variants[0].id = v.id;
  input.variants[0].inventoryQuantities = [{ locationId: loc2, name: 'available', quantity: 3 }];
  const b = await t.data(PRODUCT_SET, { identifier: { handle: 'linen-shirt' }, input });
  assert.equal(b.productSet.userErrors[0].code, 'INVALID_INPUT');
});

test('status, products query filters, productDelete, synchronous:false', async () => {
  await t.data(PRODUCT_SET, { input: { title: 'Draft thing', status: 'DRAFT' } });
  const a = await t.data(PRODUCT_SET, { input: { title: 'Active thing', status: 'ACTIVE' } });
  const q = await t.data('{ products(first: 5, query: "status:draft") { nodes { title status } } }');
  assert.deepEqual(q.products.nodes, [{ title: 'Draft thing', status: 'DRAFT' }]);
  const d = await t.data('mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { message } } }', { id: a.productSet.product.id });
  assert.equal(d.productDelete.deletedProductId, a.productSet.product.id);
  const s = await t.data('mutation { productSet(input: {title: "Async"}, synchronous: false) { product { id } productSetOperation { id status product { title } } userErrors { code } } }');
  assert.equal(s.productSet.product, null);
  assert.equal(s.productSet.productSetOperation.status, 'COMPLETE');
  assert.equal(s.productSet.productSetOperation.product.title, 'Async');
});

test('productVariantsBulkUpdate changes price; pagination with cursors', async () => {
  const a = await t.data(PRODUCT_SET, { input: sizeProduct(['S', 'M', 'L']) });
  const p = a.productSet.product;
  const u = await t.data('mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) { productVariants { id price } userErrors { code } } }',
    { p: p.id, v: [{ id: p.variants.nodes[0].id, price: '12.5' }] });
  assert.equal(u.productVariantsBulkUpdate.productVariants[0].price, '12.50');
  const page1 = await t.data('query($id: ID!) { product(id: $id) { variants(first: 2) { nodes { sku } pageInfo { hasNextPage endCursor } } } }', { id: p.id });
  assert.equal(page1.product.variants.pageInfo.hasNextPage, true);
  const page2 = await t.data('query($id: ID!, $after: String) { product(id: $id) { variants(first: 2, after: $after) { nodes { sku } pageInfo { hasNextPage } } } }', { id: p.id, after: page1.product.variants.pageInfo.endCursor });
  assert.deepEqual(page2.product.variants.nodes.map((n) => n.sku), ['SHIRT-L']);
  assert.equal(page2.product.variants.pageInfo.hasNextPage, false);
});

test('an id-typed metafield value already used by another product is refused', async () => {
  await t.data(PRODUCT_SET, { identifier: { customId: cid }, input: { title: 'One', metafields: [cidMf] } });
  const r = await t.data(PRODUCT_SET, { identifier: { handle: 'two' }, input: { title: 'Two', metafields: [cidMf] } });
  assert.equal(r.productSet.userErrors[0].code, 'DUPLICATED_METAFIELD_VALUE');
});
