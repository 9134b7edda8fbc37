'use strict';
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const { start, PRODUCT_SET, SET_QTY, sizeProduct, levelOf } = require('./helpers');

let t; let loc; let variant; let item;
before(async () => { t = await start(); });
after(async () => { await t.close(); });
beforeEach(async () => {
  await t.ctl('reset', {});
  loc = await t.defaultLocation();
  const a = await t.data(PRODUCT_SET, { input: sizeProduct(['M']) });
  variant = a.productSet.product.variants.nodes[0].id;
  item = a.productSet.product.variants.nodes[0].inventoryItem.id;
  await t.data(SET_QTY, { key: `init-${Math.random()}`, input: { name: 'on_hand', reason: 'correction', quantities: [{ inventoryItemId: item, locationId: loc, quantity: 10, changeFromQuantity: 0 }] } });
});

const ORDER_CREATE = `mutation($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name displayFulfillmentStatus displayFinancialStatus totalPriceSet { shopMoney { amount currencyCode } } totalTaxSet { shopMoney { amount } }
      lineItems(first: 10) { nodes { id sku quantity } }
      fulfillmentOrders(first: 5) { nodes { id status assignedLocation { location { id } } lineItems(first: 10) { nodes { id remainingQuantity totalQuantity lineItem { id } } } } } }
    userErrors { field message code }
  }
}`;
const FULFILL = `mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id name status location { id } fulfillmentLineItems(first: 10) { nodes { quantity lineItem { id sku } } } } userErrors { field message } } }`;
const REFUND = `mutation($input: RefundInput!, $k: String!) { refundCreate(input: $input) @idempotent(key: $k) {
  refund { id totalRefundedSet { shopMoney { amount } } refundLineItems(first: 10) { nodes { quantity restockType restocked location { id } lineItem { id sku } subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } } } }
  order { displayFinancialStatus }
  userErrors { field message } } }`;

const order = (qty, extra) => Object.assign({
  currency: 'NZD', email: 'buyer@example.com', taxesIncluded: true,
  lineItems: [{ variantId: variant, quantity: qty, taxLines: [{ title: 'GST', rate: 0.15, priceSet: { shopMoney: { amount: (qty * 39.9 * 0.15 / 1.15).toFixed(2), currencyCode: 'NZD' } } }] }],
  shippingLines: [{ title: 'Courier', code: 'COURIER', priceSet: { shopMoney: { amount: '10.00', currencyCode: 'NZD' } } }],
  transactions: [{ kind: 'SALE', status: 'SUCCESS', gateway: 'manual', amountSet: { shopMoney: { amount: (qty * 39.9 + 10).toFixed(2), currencyCode: 'NZD' } } }],
}, extra || {});

test('BYPASS (default) claims nothing; fulfilling decrements on_hand and available', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(2) });
  const o = r.orderCreate.order;
  assert.equal(o.displayFulfillmentStatus, 'UNFULFILLED');
  assert.equal(o.displayFinancialStatus, 'PAID');
  assert.equal(o.totalPriceSet.shopMoney.amount, '89.80');
  assert.deepEqual(await levelOf(t, item, loc), { available: 10, on_hand: 10, committed: 0 });
  const fo = o.fulfillmentOrders.nodes[0];
  assert.equal(fo.assignedLocation.location.id, loc);
  const f = await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: fo.id }] } });
  assert.equal(f.fulfillmentCreate.fulfillment.location.id, loc);
  assert.deepEqual(await levelOf(t, item, loc), { available: 8, on_hand: 8, committed: 0 });
  const q = await t.data('query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillments(first: 5) { name location { id } } } }', { id: o.id });
  assert.equal(q.order.displayFulfillmentStatus, 'FULFILLED');
  assert.equal(q.order.fulfillments[0].name, `${o.name}-F1`);
});

test('DECREMENT_OBEYING_POLICY commits units; partial fulfilment; restocking refund', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(3), options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' } });
  const o = r.orderCreate.order;
  assert.deepEqual(await levelOf(t, item, loc), { available: 7, on_hand: 10, committed: 3 });
  const fo = o.fulfillmentOrders.nodes[0];
  const foli = fo.lineItems.nodes[0];
  await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: fo.id, fulfillmentOrderLineItems: [{ id: foli.id, quantity: 1 }] }] } });
  assert.deepEqual(await levelOf(t, item, loc), { available: 7, on_hand: 9, committed: 2 });
  let q = await t.data('query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }', { id: o.id });
  assert.equal(q.order.displayFulfillmentStatus, 'PARTIALLY_FULFILLED');
  await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: fo.id, fulfillmentOrderLineItems: [{ id: foli.id, quantity: 2 }] }] } });
  assert.deepEqual(await levelOf(t, item, loc), { available: 7, on_hand: 7, committed: 0 });
  q = await t.data('query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }', { id: o.id });
  assert.equal(q.order.displayFulfillmentStatus, 'FULFILLED');
  // refund 1 with restock RETURN at the shop location
  const li = o.lineItems.nodes[0].id;
  const rf = await t.data(REFUND, { k: 'rf-1', input: { orderId: o.id, note: 'returned', refundLineItems: [{ lineItemId: li, quantity: 1, restockType: 'RETURN', locationId: loc }],
    transactions: [{ orderId: o.id, kind: 'REFUND', gateway: 'manual', amount: '39.90' }] } });
  const rli = rf.refundCreate.refund.refundLineItems.nodes[0];
  assert.equal(rli.restocked, true);
  assert.equal(rli.subtotalSet.shopMoney.amount, '39.90');
  assert.equal(rli.totalTaxSet.shopMoney.amount, '5.20');
  assert.equal(rf.refundCreate.refund.totalRefundedSet.shopMoney.amount, '39.90');
  assert.equal(rf.refundCreate.order.displayFinancialStatus, 'PARTIALLY_REFUNDED');
  assert.deepEqual(await levelOf(t, item, loc), { available: 8, on_hand: 8, committed: 0 });
  // idempotent replay of the refund does not restock twice
  const again = await t.data(REFUND, { k: 'rf-1', input: { orderId: o.id, note: 'returned', refundLineItems: [{ lineItemId: li, quantity: 1, restockType: 'RETURN', locationId: loc }],
    transactions: [{ orderId: o.id, kind: 'REFUND', gateway: 'manual', amount: '39.90' }] } });
  assert.equal(again.refundCreate.refund.id, rf.refundCreate.refund.id);
  assert.deepEqual(await levelOf(t, item, loc), { available: 8, on_hand: 8, committed: 0 });
  // same key, other input -> top-level IDEMPOTENCY_KEY_PARAMETER_MISMATCH
  const mm = await t.gql(REFUND, { k: 'rf-1', input: { orderId: o.id, refundLineItems: [{ lineItemId: li, quantity: 2, restockType: 'NO_RESTOCK' }] } });
  assert.equal(mm.body.errors[0].extensions.code, 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
  // refunds exposed on the order
  const rq = await t.data('query($id: ID!) { order(id: $id) { totalRefundedSet { shopMoney { amount } } refunds(first: 5) { id note refundLineItems(first: 5) { nodes { quantity lineItem { sku } } } } } }', { id: o.id });
  assert.equal(rq.order.refunds.length, 1);
  assert.equal(rq.order.refunds[0].refundLineItems.nodes[0].lineItem.sku, 'SHIRT-M');
  assert.equal(rq.order.totalRefundedSet.shopMoney.amount, '39.90');
});

test('oversell is refused under DECREMENT_OBEYING_POLICY, allowed when ignoring policy', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(11), options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' } });
  assert.equal(r.orderCreate.order, null);
  assert.equal(r.orderCreate.userErrors[0].code, 'INVENTORY_CLAIM_FAILED');
  assert.equal((await t.ctl('state')).orders.length, 0);
  const r2 = await t.data(ORDER_CREATE, { order: order(11), options: { inventoryBehaviour: 'DECREMENT_IGNORING_POLICY' } });
  assert.ok(r2.orderCreate.order.id);
  assert.deepEqual(await levelOf(t, item, loc), { available: -1, on_hand: 10, committed: 11 });
});

test('cancel restock of unfulfilled claimed units releases the claim', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(2), options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' } });
  const o = r.orderCreate.order;
  await t.data(REFUND, { k: 'c1', input: { orderId: o.id, refundLineItems: [{ lineItemId: o.lineItems.nodes[0].id, quantity: 2, restockType: 'CANCEL', locationId: loc }] } });
  assert.deepEqual(await levelOf(t, item, loc), { available: 10, on_hand: 10, committed: 0 });
});

test('fulfilling from a chosen location via fulfillmentOrderMove', async () => {
  const add = await t.data('mutation { locationAdd(input: {name: "Branch", address: {countryCode: NZ}}) { location { id } } }');
  const loc2 = add.locationAdd.location.id;
  const r = await t.data(ORDER_CREATE, { order: order(1), options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' } });
  const fo = r.orderCreate.order.fulfillmentOrders.nodes[0];
  assert.equal(fo.assignedLocation.location.id, loc);
  const MOVE = 'mutation($id: ID!, $l: ID!) { fulfillmentOrderMove(id: $id, newLocationId: $l) { movedFulfillmentOrder { id assignedLocation { location { id } } } userErrors { field message } } }';
  // a location that does not stock the item is refused; nothing moves
  const refused = await t.data(MOVE, { id: fo.id, l: loc2 });
  assert.equal(refused.fulfillmentOrderMove.movedFulfillmentOrder, null);
  assert.deepEqual(refused.fulfillmentOrderMove.userErrors[0].field, ['newLocationId']);
  assert.deepEqual(await levelOf(t, item, loc), { available: 9, on_hand: 10, committed: 1 });
  await t.data('mutation($i: ID!, $l: ID!) { inventoryActivate(inventoryItemId: $i, locationId: $l, onHand: 5) @idempotent(key: "a2") { userErrors { message } } }', { i: item, l: loc2 });
  const mv = await t.data(MOVE, { id: fo.id, l: loc2 });
  assert.equal(mv.fulfillmentOrderMove.movedFulfillmentOrder.id, fo.id);
  assert.equal(mv.fulfillmentOrderMove.movedFulfillmentOrder.assignedLocation.location.id, loc2);
  assert.deepEqual(await levelOf(t, item, loc2), { available: 4, on_hand: 5, committed: 1 });
  assert.deepEqual(await levelOf(t, item, loc), { available: 10, on_hand: 10, committed: 0 });
  await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: fo.id }] } });
  assert.deepEqual(await levelOf(t, item, loc2), { available: 4, on_hand: 4, committed: 0 });
  const rest = await fetch(`${t.base}/_sim/orders/${r.orderCreate.order.id.split('/').pop()}/rest`).then((x) => x.json());
  assert.equal(rest.order.fulfillments[0].location_id, Number(loc2.split('/').pop()));
  assert.equal(rest.order.fulfillment_status, 'fulfilled');
});

test('orders query: fulfillment_status, updated_at range, sortKey UPDATED_AT, cursors', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await t.data(ORDER_CREATE, { order: order(1) })).orderCreate.order);
  // fulfil the first and last
  for (const o of [ids[0], ids[2]]) await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: o.fulfillmentOrders.nodes[0].id }] } });
  const Q = 'query($q: String, $after: String) { orders(first: 1, after: $after, query: $q, sortKey: UPDATED_AT) { nodes { id updatedAt displayFulfillmentStatus } pageInfo { hasNextPage endCursor } } }';
  const p1 = await t.data(Q, { q: 'fulfillment_status:shipped' });
  assert.equal(p1.orders.nodes[0].id, ids[0].id);
  assert.equal(p1.orders.pageInfo.hasNextPage, true);
  const p2 = await t.data(Q, { q: 'fulfillment_status:shipped', after: p1.orders.pageInfo.endCursor });
  assert.equal(p2.orders.nodes[0].id, ids[2].id);
  assert.equal(p2.orders.pageInfo.hasNextPage, false);
  const un = await t.data('{ orders(first: 10, query: "fulfillment_status:unshipped") { nodes { id } } }');
  assert.deepEqual(un.orders.nodes.map((n) => n.id), [ids[1].id]);
  const since = new Date(Date.parse(p1.orders.nodes[0].updatedAt) - 1000).toISOString();
  const rng = await t.data(`{ orders(first: 10, query: "updated_at:>='${since}'", sortKey: UPDATED_AT) { nodes { id } } }`);
  assert.ok(rng.orders.nodes.length >= 2);
  const none = await t.data('{ orders(first: 10, query: "updated_at:>\'2999-01-01T00:00:00Z\'") { nodes { id } } }');
  assert.equal(none.orders.nodes.length, 0);
});

test('order details: discounts, tax lines, shipping, customer upsert, REST shape', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(2, {
    customer: { toUpsert: { email: 'jo@example.com', firstName: 'Jo', lastName: 'Bloggs' } },
    discountCode: { itemFixedDiscountCode: { code: 'TENOFF', amountSet: { shopMoney: { amount: '10.00', currencyCode: 'NZD' } } } },
    billingAddress: { address1: '1 Main St', city: 'Auckland', countryCode: 'NZ', firstName: 'Jo', lastName: 'Bloggs' },
  }) });
  const o = r.orderCreate.order;
  const d = await t.data(`query($id: ID!) { order(id: $id) { name email customer { email firstName defaultEmailAddress { emailAddress } }
    subtotalPriceSet { shopMoney { amount } } totalDiscountsSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount } } totalPriceSet { shopMoney { amount } }
    taxLines { title rate priceSet { shopMoney { amount } } }
    discountApplications(first: 5) { nodes { index allocationMethod ... on DiscountCodeApplication { code } value { ... on MoneyV2 { amount } } } }
    lineItems(first: 5) { nodes { originalUnitPriceSet { shopMoney { amount } } discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } } totalDiscountSet { shopMoney { amount } }
      discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } taxLines { title rate priceSet { shopMoney { amount } } } variant { sku } } }
    shippingLines(first: 5) { nodes { title code originalPriceSet { shopMoney { amount } } } }
    transactions { kind status gateway amountSet { shopMoney { amount } } } } }`, { id: o.id });
  const od = d.order;
  assert.equal(od.customer.email, 'jo@example.com');
  assert.equal(od.subtotalPriceSet.shopMoney.amount, '69.80');
  assert.equal(od.totalDiscountsSet.shopMoney.amount, '10.00');
  assert.equal(od.totalShippingPriceSet.shopMoney.amount, '10.00');
  assert.equal(od.totalPriceSet.shopMoney.amount, '79.80');
  assert.equal(od.discountApplications.nodes[0].code, 'TENOFF');
  assert.equal(od.lineItems.nodes[0].discountAllocations[0].allocatedAmountSet.shopMoney.amount, '10.00');
  assert.equal(od.lineItems.nodes[0].discountedUnitPriceAfterAllDiscountsSet.shopMoney.amount, '34.90');
  assert.equal(od.taxLines[0].title, 'GST');
  assert.equal(od.transactions[0].gateway, 'manual');
  const rest = await fetch(`${t.base}/_sim/orders/${o.id.split('/').pop()}/rest`).then((x) => x.json());
  assert.equal(rest.order.admin_graphql_api_id, o.id);
  assert.equal(rest.order.total_price, '79.80');
  assert.equal(rest.order.line_items[0].discount_allocations[0].amount, '10.00');
  assert.equal(rest.order.customer.email, 'jo@example.com');
  assert.equal(rest.order.financial_status, 'paid');
  assert.deepEqual(rest.order.payment_gateway_names, ['manual']);
});

test('webhooks: orders/fulfilled and refunds/create with HMAC', async () => {
  const got = [];
  const recv = http.createServer((req, res) => { const c = []; req.on('data', (x) => c.push(x)); req.on('end', () => { got.push({ h: req.headers, body: Buffer.concat(c) }); res.end('ok'); }); });
  await new Promise((r) => recv.listen(0, '127.0.0.1', r));
  try {
    await t.ctl('webhooks', { url: `http://127.0.0.1:${recv.address().port}/hook`, secret: 'shhh', topics: ['orders/fulfilled', 'refunds/create'] });
    const o = (await t.data(ORDER_CREATE, { order: order(1) })).orderCreate.order;
    await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: o.fulfillmentOrders.nodes[0].id }] } });
    await t.data(REFUND, { k: 'wh', input: { orderId: o.id, refundLineItems: [{ lineItemId: o.lineItems.nodes[0].id, quantity: 1, restockType: 'RETURN', locationId: loc }] } });
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got.map((g) => g.h['x-shopify-topic']), ['orders/fulfilled', 'refunds/create']);
    for (const g of got) {
      assert.equal(g.h['x-shopify-hmac-sha256'], crypto.createHmac('sha256', 'shhh').update(g.body).digest('base64'));
      assert.ok(g.h['x-shopify-webhook-id']);
    }
    const order1 = JSON.parse(got[0].body);
    assert.equal(order1.fulfillments[0].location_id, Number(loc.split('/').pop()));
    const refund = JSON.parse(got[1].body);
    assert.equal(refund.refund_line_items[0].restock_type, 'return');
  } finally {
    await new Promise((r) => recv.close(r));
  }
});

test('orderCancel releases claims (restock) and refunds; orderUpdate; orderMarkAsPaid', async () => {
  const r = await t.data(ORDER_CREATE, { order: order(2, { transactions: undefined, financialStatus: 'PENDING' }), options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' } });
  const o = r.orderCreate.order;
  assert.equal(o.displayFinancialStatus, 'PENDING');
  const paid = await t.data('mutation($id: ID!) { orderMarkAsPaid(input: {id: $id}) { order { displayFinancialStatus } userErrors { message } } }', { id: o.id });
  assert.equal(paid.orderMarkAsPaid.order.displayFinancialStatus, 'PAID');
  const up = await t.data('mutation($id: ID!) { orderUpdate(input: {id: $id, note: "hello", tags: ["a"]}) { order { note tags } userErrors { message } } }', { id: o.id });
  assert.deepEqual(up.orderUpdate.order, { note: 'hello', tags: ['a'] });
  assert.deepEqual(await levelOf(t, item, loc), { available: 8, on_hand: 10, committed: 2 });
  const c = await t.data('mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: true) { job { id done } orderCancelUserErrors { code message } } }', { id: o.id });
  assert.deepEqual(c.orderCancel.orderCancelUserErrors, []);
  assert.deepEqual(await levelOf(t, item, loc), { available: 10, on_hand: 10, committed: 0 });
  const q = await t.data('query($id: ID!) { order(id: $id) { cancelledAt cancelReason displayFinancialStatus totalRefundedSet { shopMoney { amount } } } }', { id: o.id });
  assert.ok(q.order.cancelledAt);
  assert.equal(q.order.cancelReason, 'CUSTOMER');
  assert.equal(q.order.displayFinancialStatus, 'REFUNDED');
  const again = await t.data('mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true) { orderCancelUserErrors { code } } }', { id: o.id });
  assert.equal(again.orderCancel.orderCancelUserErrors[0].code, 'INVALID');
  const cancelled = await t.data('{ orders(first: 5, query: "status:cancelled") { nodes { id } } }');
  assert.deepEqual(cancelled.orders.nodes.map((n) => n.id), [o.id]);
});

test('webhookSubscriptionCreate delivers signed with the client secret; publications; unmodelled mutations fail loudly', async () => {
  const got = [];
  const recv = http.createServer((req, res) => { const c = []; req.on('data', (x) => c.push(x)); req.on('end', () => { got.push({ h: req.headers, body: Buffer.concat(c) }); res.end('ok'); }); });
  await new Promise((r) => recv.listen(0, '127.0.0.1', r));
  try {
    await t.ctl('webhooks', {});
    const s = await t.data('mutation($u: String!) { webhookSubscriptionCreate(topic: ORDERS_FULFILLED, webhookSubscription: {uri: $u, format: JSON}) { webhookSubscription { id topic uri } userErrors { message } } }',
      { u: `http://127.0.0.1:${recv.address().port}/wh` });
    assert.equal(s.webhookSubscriptionCreate.webhookSubscription.topic, 'ORDERS_FULFILLED');
    const list = await t.data('{ webhookSubscriptions(first: 5) { nodes { id uri } } }');
    assert.equal(list.webhookSubscriptions.nodes.length, 1);
    const o = (await t.data(ORDER_CREATE, { order: order(1) })).orderCreate.order;
    await t.data(FULFILL, { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: o.fulfillmentOrders.nodes[0].id }] } });
    for (let i = 0; i < 50 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 1);
    assert.equal(got[0].h['x-shopify-topic'], 'orders/fulfilled');
    assert.equal(got[0].h['x-shopify-hmac-sha256'], crypto.createHmac('sha256', 'test-client-secret').update(got[0].body).digest('base64'));
  } finally {
    await new Promise((r) => recv.close(r));
  }
  const pubs = await t.data('{ publications(first: 5) { nodes { id name } } }');
  assert.equal(pubs.publications.nodes[0].name, 'Online Store');
  const prod = (await t.ctl('state')).products[0].id;
  const pp = await t.data('mutation($id: ID!, $p: ID!) { publishablePublish(id: $id, input: [{publicationId: $p}]) { publishable { ... on Product { publishedOnPublication(publicationId: $p) } } userErrors { message } } }',
    { id: prod, p: pubs.publications.nodes[0].id });
  assert.equal(pp.publishablePublish.publishable.publishedOnPublication, true);
  const ni = await t.gql('mutation { giftCardCreate(input: {initialValue: "10"}) { userErrors { message } } }');
  assert.equal(ni.body.errors[0].extensions.code, 'NOT_IMPLEMENTED');
});
