'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start, PRODUCT_SET, sizeProduct, levelOf } = require('./helpers');

let t;
before(async () => { t = await start({ plan: 'plus' }); });
after(async () => { await t.close(); });

test('reset keeps the plan unless told otherwise, recreates the default location, clears counters', async () => {
  await t.gql('{ shop { name } }');
  let r = await t.ctl('reset', {});
  assert.equal(r.config.plan.max, 20000);
  const c = await t.ctl('counters');
  assert.equal(c.requestsTotal, 0);
  assert.deepEqual(Object.keys(c).sort(), ['costSpent', 'faults', 'idempotentReplays', 'maxCostExceeded', 'mutationsApplied', 'oauthTokensIssued', 'requests', 'requestsTotal', 'throttled', 'unauthorized', 'validationFailures']);
  r = await t.ctl('reset', { plan: 'standard' });
  assert.equal(r.config.plan.max, 2000);
  const st = await t.ctl('state');
  assert.deepEqual(Object.keys(st).sort(), ['bulkOperations', 'customers', 'idempotencyKeys', 'inventoryItems', 'inventoryLevels', 'locations', 'orders', 'products', 'webhooks']);
  assert.equal(st.locations.length, 1);
  assert.equal(st.locations[0].name, 'Shop location');
  assert.equal(st.locations[0].id, 'gid://shopify/Location/1000000001');
});

test('state dump shape and tamper operations', async () => {
  await t.ctl('reset', {});
  const loc = await t.defaultLocation();
  const a = await t.data(PRODUCT_SET, { identifier: { customId: { namespace: 'pos', key: 'product_id', value: 'P-9' } }, input: sizeProduct(['M', 'L']) });
  const p = a.productSet.product;
  let st = await t.ctl('state');
  const sp = st.products[0];
  assert.deepEqual(Object.keys(sp).sort(), ['createdAt', 'customId', 'descriptionHtml', 'handle', 'id', 'metafields', 'options', 'productType', 'status', 'tags', 'title', 'updatedAt', 'variants', 'vendor']);
  assert.deepEqual(sp.customId, { namespace: 'pos', key: 'product_id', value: 'P-9' });
  assert.deepEqual(Object.keys(sp.variants[0]).sort(), ['barcode', 'compareAtPrice', 'id', 'inventoryItemId', 'inventoryPolicy', 'metafields', 'price', 'selectedOptions', 'sku']);
  assert.equal(sp.variants[0].price, '39.90');
  assert.deepEqual(st.inventoryItems[0], { id: p.variants.nodes[0].inventoryItem.id, sku: 'SHIRT-M', variantId: p.variants.nodes[0].id, tracked: true });
  await t.ctl('tamper', { op: 'setVariantPrice', sku: 'SHIRT-M', price: '1.00' });
  await t.ctl('tamper', { op: 'setOnHand', sku: 'SHIRT-L', locationId: loc, quantity: 9 });
  const v = await t.data('query($id: ID!) { productVariant(id: $id) { price } }', { id: p.variants.nodes[0].id });
  assert.equal(v.productVariant.price, '1.00');
  assert.equal((await levelOf(t, p.variants.nodes[1].inventoryItem.id, loc)).on_hand, 9);
  await t.ctl('tamper', { op: 'deleteVariant', sku: 'SHIRT-L' });
  st = await t.ctl('state');
  assert.equal(st.products[0].variants.length, 1);
  await t.ctl('tamper', { op: 'deleteProduct', id: p.id });
  st = await t.ctl('state');
  assert.equal(st.products.length, 0);
  assert.equal(st.inventoryItems.length, 0);
  const bad = await fetch(`${t.base}/_sim/tamper`, { method: 'POST', body: JSON.stringify({ op: 'nope' }) });
  assert.equal(bad.status, 400);
});

test('REST refund endpoint and unknown paths', async () => {
  await t.ctl('reset', {});
  const loc = await t.defaultLocation();
  const a = await t.data(PRODUCT_SET, { input: sizeProduct(['M']) });
  const v = a.productSet.product.variants.nodes[0].id;
  const o = await t.data('mutation($v: ID!) { orderCreate(order: {lineItems: [{variantId: $v, quantity: 1}], taxesIncluded: true, taxLines: [{title: "GST", rate: 0.15}]}) { order { id lineItems(first: 1) { nodes { id } } fulfillmentOrders(first: 1) { nodes { id } } } } }', { v });
  const ord = o.orderCreate.order;
  await t.data('mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }', { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: ord.fulfillmentOrders.nodes[0].id }] } });
  const r = await t.data('mutation($i: RefundInput!) { refundCreate(input: $i) @idempotent(key: "rr") { refund { id } } }',
    { i: { orderId: ord.id, note: 'damaged', refundLineItems: [{ lineItemId: ord.lineItems.nodes[0].id, quantity: 1, restockType: 'NO_RESTOCK' }], transactions: [{ orderId: ord.id, kind: 'REFUND', gateway: 'manual', amount: '39.90' }] } });
  const rid = r.refundCreate.refund.id.split('/').pop();
  const rest = await fetch(`${t.base}/_sim/refunds/${rid}/rest`).then((x) => x.json());
  assert.equal(rest.refund.order_id, Number(ord.id.split('/').pop()));
  assert.equal(rest.refund.note, 'damaged');
  assert.equal(rest.refund.refund_line_items[0].restock_type, 'no_restock');
  assert.equal(rest.refund.refund_line_items[0].subtotal, '39.90');
  assert.equal(rest.refund.refund_line_items[0].total_tax, '5.20');
  assert.equal(rest.refund.transactions[0].kind, 'refund');
  assert.equal(rest.refund.restock, false);
  // NO_RESTOCK of a fulfilled unit leaves stock alone
  assert.equal((await levelOf(t, a.productSet.product.variants.nodes[0].inventoryItem.id, loc)).on_hand, -1);
  assert.equal((await fetch(`${t.base}/_sim/refunds/1/rest`)).status, 404);
  assert.equal((await fetch(`${t.base}/nope`)).status, 404);
});
