'use strict';
// The documents of shared/spec/shopify-api.md, sent as the extension sends them.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });

const PRODUCT_SET_SYNC = `mutation ProductSetSync($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle status updatedAt
      variants(first: 100) { nodes { id sku selectedOptions { name value } inventoryItem { id } }
                             pageInfo { hasNextPage endCursor } } }
    userErrors { field message code }
  }
}`;
const INVENTORY_SET = `mutation InventorySet($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id createdAt reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}`;

const ORDER_DETAIL = `query OrderDetail($id: ID!) {
  order(id: $id) {
    id legacyResourceId name number processedAt createdAt updatedAt cancelledAt test sourceName retailLocation { id }
    currencyCode presentmentCurrencyCode taxesIncluded displayFinancialStatus displayFulfillmentStatus email phone
    customer { id email phone firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
    billingAddress { firstName lastName company address1 address2 city province provinceCode country countryCodeV2 zip phone }
    shippingAddress { firstName lastName address1 city zip countryCodeV2 }
    subtotalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    totalDiscountsSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
    totalPriceSet { shopMoney { amount } } currentTotalPriceSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
    taxLines { title rate ratePercentage priceSet { shopMoney { amount } } channelLiable }
    discountApplications(first: 5) { nodes { index allocationMethod targetType
      value { ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }
      ... on DiscountCodeApplication { code } } }
    lineItems(first: 10) { nodes { id sku name title variantTitle quantity currentQuantity variant { id sku } taxable
      originalUnitPriceSet { shopMoney { amount } } discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } }
      totalDiscountSet { shopMoney { amount } } discountedTotalSet { shopMoney { amount } }
      discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } }
      taxLines { title rate priceSet { shopMoney { amount } } } } pageInfo { hasNextPage endCursor } }
    shippingLines(first: 5, includeRemovals: false) { nodes { title code source originalPriceSet { shopMoney { amount } }
      discountedPriceSet { shopMoney { amount } } taxLines { title rate priceSet { shopMoney { amount } } }
      discountAllocations { allocatedAmountSet { shopMoney { amount } } } } }
    fulfillmentOrders(first: 5) { nodes { id status assignedLocation { location { id } } lineItems(first: 10) { nodes { id remainingQuantity totalQuantity lineItem { id } } } } }
    fulfillments(first: 5) { id name status createdAt location { id } fulfillmentLineItems(first: 5) { nodes { quantity lineItem { id sku } } } }
    transactions(first: 10) { kind status gateway amountSet { shopMoney { amount } } }
    refunds(first: 3) { id createdAt processedAt updatedAt note totalRefundedSet { shopMoney { amount } }
      refundLineItems(first: 5) { nodes { quantity restockType restocked location { id } lineItem { id sku } priceSet { shopMoney { amount } }
        subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } } }
      refundShippingLines(first: 2) { nodes { shippingLine { title } subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } } }
      orderAdjustments(first: 2) { nodes { id amountSet { shopMoney { amount } } } }
      transactions(first: 2) { nodes { kind status gateway amountSet { shopMoney { amount } } } }
      duties { amountSet { shopMoney { amount } } } return { id } staffMember { id } }
  }
}`;

test('spec ProductSetSync + InventorySet documents with the spec variables', async () => {
  const loc = await t.defaultLocation();
  const variables = { identifier: { customId: { namespace: 'pos', key: 'product_id', value: 'P-1001' } }, input: { title: 'Linen shirt', vendor: 'Acme', productType: 'Shirts', status: 'ACTIVE',
    metafields: [{ namespace: 'pos', key: 'product_id', type: 'id', value: 'P-1001' }],
    productOptions: [{ name: 'Colour', position: 1, values: [{ name: 'Blue' }, { name: 'White' }] }, { name: 'Size', position: 2, values: [{ name: 'M' }, { name: 'L' }] }],
    variants: [{ optionValues: [{ optionName: 'Colour', name: 'Blue' }, { optionName: 'Size', name: 'M' }], sku: 'P-1001-BLU-M', barcode: '5601234567890', price: '39.90', compareAtPrice: '49.90',
      inventoryItem: { tracked: true, cost: '12.50' }, inventoryQuantities: [{ locationId: loc, name: 'available', quantity: 5 }] },
    { optionValues: [{ optionName: 'Colour', name: 'White' }, { optionName: 'Size', name: 'L' }], sku: 'P-1001-WHI-L', price: '39.90' }] } };
  const r = await t.gql(PRODUCT_SET_SYNC, variables, { operationName: 'ProductSetSync' });
  assert.equal(r.status, 200);
  assert.equal(r.body.errors, undefined);
  const p = r.body.data.productSet.product;
  assert.equal(p.variants.nodes.length, 2);
  assert.equal(p.status, 'ACTIVE');
  assert.match(p.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // 10 + 0.2*2 + 0.4 -> 10.8; product 1 + variants 2 + 100*3 + userErrors 1 -> ceil(314.8)
  assert.equal(r.body.extensions.cost.requestedQueryCost, 315);
  const items = p.variants.nodes.map((v) => v.inventoryItem.id);
  const inv = await t.gql(INVENTORY_SET, { idempotencyKey: '0b8f8a4e-6f5e-4a57-9d3c-2f8a9c1d0e11', input: { name: 'on_hand', reason: 'correction',
    referenceDocumentUri: 'gid://pos-sync/StockSnapshot/2026-11-26T10:00:00Z', quantities: [
      { inventoryItemId: items[0], locationId: loc, quantity: 12, changeFromQuantity: 5 },
      { inventoryItemId: items[1], locationId: loc, quantity: 3, changeFromQuantity: null }] } });
  assert.equal(inv.body.errors, undefined);
  const g = inv.body.data.inventorySetQuantities.inventoryAdjustmentGroup;
  assert.equal(g.referenceDocumentUri, 'gid://pos-sync/StockSnapshot/2026-11-26T10:00:00Z');
  assert.equal(g.changes.length, 4);
});

test('the full order detail query resolves without errors', async () => {
  const loc = await t.defaultLocation();
  const p = await t.data('mutation { productSet(input: {title: "Tee"}) { product { variants(first: 1) { nodes { id } } } } }');
  const v = p.productSet.product.variants.nodes[0].id;
  const o = await t.data(`mutation($order: OrderCreateOrderInput!) { orderCreate(order: $order) { order { id lineItems(first: 5) { nodes { id } } fulfillmentOrders(first: 2) { nodes { id } } } userErrors { message } } }`,
    { order: { currency: 'NZD', lineItems: [{ variantId: v, quantity: 2, priceSet: { shopMoney: { amount: '20.00', currencyCode: 'NZD' } } }, { title: 'Gift wrap', quantity: 1, priceSet: { shopMoney: { amount: '5.00', currencyCode: 'NZD' } }, requiresShipping: false }],
      taxLines: [{ title: 'GST', rate: 0.15 }], taxesIncluded: true, financialStatus: 'PAID',
      shippingLines: [{ title: 'Post', priceSet: { shopMoney: { amount: '6.00', currencyCode: 'NZD' } }, taxLines: [{ title: 'GST', rate: 0.15, priceSet: { shopMoney: { amount: '0.78', currencyCode: 'NZD' } } }] }],
      discountCode: { itemPercentageDiscountCode: { code: 'TEN', percentage: 10 } } } });
  const order = o.orderCreate.order;
  await t.data('mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }', { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: order.fulfillmentOrders.nodes[0].id }] } });
  await t.data('mutation($i: RefundInput!) { refundCreate(input: $i) @idempotent(key: "r1") { userErrors { message } } }',
    { i: { orderId: order.id, refundLineItems: [{ lineItemId: order.lineItems.nodes[0].id, quantity: 1, restockType: 'RETURN', locationId: loc }], shipping: { fullRefund: true },
      transactions: [{ orderId: order.id, kind: 'REFUND', gateway: 'manual', amount: '24.00' }] } });
  const r = await t.gql(ORDER_DETAIL, { id: order.id });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  const d = r.body.data.order;
  assert.equal(d.subtotalPriceSet.shopMoney.amount, '40.50');
  assert.equal(d.totalPriceSet.shopMoney.amount, '46.50');
  assert.equal(d.discountApplications.nodes[0].value.percentage, 10);
  assert.equal(d.taxLines[0].priceSet.shopMoney.amount, '6.07');
  assert.equal(d.refunds[0].refundShippingLines.nodes[0].subtotalAmountSet.shopMoney.amount, '6.00');
  assert.equal(d.refunds[0].refundLineItems.nodes[0].subtotalSet.shopMoney.amount, '18.00');
  assert.equal(d.displayFulfillmentStatus, 'FULFILLED');
  assert.equal(d.displayFinancialStatus, 'PARTIALLY_REFUNDED');
  assert.ok(r.body.extensions.cost.requestedQueryCost <= 1000, String(r.body.extensions.cost.requestedQueryCost));
});
