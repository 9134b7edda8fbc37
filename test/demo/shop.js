#!/usr/bin/env node
// Drive the demo shop (the Shopify simulator) the way Shopify's admin and a
// web checkout would: through its Admin GraphQL API.
//   shop.js BASE state                      -> the simulator's state dump (JSON)
//   shop.js BASE order SKU QTY LOCATION     -> a web order for QTY x SKU, paid,
//                                               fulfilled from LOCATION (by name)
'use strict';
const [base, cmd, ...args] = process.argv.slice(2);
const TOKEN = process.env.SHOP_TOKEN || 'shpat_test_token';

async function gql(query, variables) {
  const r = await fetch(`${base}/admin/api/2026-10/graphql.json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': TOKEN },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function main() {
  if (cmd === 'state') {
    const r = await fetch(`${base}/_sim/state`);
    process.stdout.write(JSON.stringify(await r.json()));
    return;
  }
  if (cmd === 'order') {
    const [sku, qty, locName] = args;
    const q = Number(qty);
    const v = (await gql(`query($q: String!) { productVariants(first: 1, query: $q) {
        nodes { id price } } }`, { q: `sku:${sku}` })).productVariants.nodes[0];
    if (!v) throw new Error(`no variant with SKU ${sku} in the shop`);
    const locs = (await gql('{ locations(first: 50) { nodes { id name } } }')).locations.nodes;
    const loc = locs.find((l) => l.name === locName);
    if (!loc) throw new Error(`no location named ${locName}`);
    const money = (a) => ({ shopMoney: { amount: a, currencyCode: 'NZD' } });
    const total = (q * Number(v.price) + 8).toFixed(2);
    const o = (await gql(`mutation($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
        orderCreate(order: $order, options: $options) {
          order { id name fulfillmentOrders(first: 5) { nodes { id } } }
          userErrors { field message } } }`, {
      order: {
        currency: 'NZD', email: 'aroha.demo@example.co.nz', taxesIncluded: true,
        customer: { toUpsert: { email: 'aroha.demo@example.co.nz', firstName: 'Aroha', lastName: 'Ngata' } },
        lineItems: [{ variantId: v.id, quantity: q }],
        shippingLines: [{ title: 'NZ Post courier', code: 'COURIER', priceSet: money('8.00') }],
        transactions: [{ kind: 'SALE', status: 'SUCCESS', gateway: 'shopify_payments', amountSet: money(total) }],
      },
      options: { inventoryBehaviour: 'DECREMENT_OBEYING_POLICY' },
    })).orderCreate;
    if (o.userErrors.length) throw new Error(JSON.stringify(o.userErrors));
    for (const fo of o.order.fulfillmentOrders.nodes) {
      const m = (await gql(`mutation($id: ID!, $loc: ID!) { fulfillmentOrderMove(id: $id, newLocationId: $loc) {
          movedFulfillmentOrder { id } userErrors { field message } } }`, { id: fo.id, loc: loc.id })).fulfillmentOrderMove;
      if (m.userErrors.length) throw new Error(JSON.stringify(m.userErrors));
      const f = (await gql(`mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
          fulfillment { id } userErrors { field message } } }`,
        { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: m.movedFulfillmentOrder.id }] } })).fulfillmentCreate;
      if (f.userErrors.length) throw new Error(JSON.stringify(f.userErrors));
    }
    console.log(`web order ${o.order.name}: ${q} x ${sku}, $${total} paid, fulfilled from ${locName}`);
    return;
  }
  throw new Error('usage: shop.js BASE state | order SKU QTY LOCATION');
}
main().catch((e) => { console.error(`shop.js: ${e.message}`); process.exit(1); });
