#!/usr/bin/env node
// Drive the Shopify simulator for the order tests (TAP 05x): products,
// locations, orders fulfilled from chosen locations, refunds -- all through
// its Admin GraphQL API, the way Shopify's admin and checkout would.
//   shop.js BASE setup                    -> {"locations":{name:gid},"variants":{sku:gid}}
//   shop.js BASE order  '<spec json>'     -> {"id":gid,"name":"#1001","lineItems":{sku:gid}}
//        spec: {lines:[{sku,qty}|{title,price,qty,giftCard}], location|locations:{sku:name},
//               customer:{email,firstName,lastName}, shipping:"8.00", discountPct:10,
//               taxesIncluded:true, gst:0.15}   (every fulfillment order shipped whole,
//               from location if given, else from the location Shopify assigned)
//        spec.fulfil: ship only the first N fulfillment orders (the rest: shop.js fulfil)
//   shop.js BASE fulfil ORDER_GID         -> ship the order's remaining fulfillment orders
//   shop.js BASE refund '<spec json>'     -> {"id":gid}
//        spec: {order:gid, lines:[{lineItem:gid,qty,restock:"RETURN"|"NO_RESTOCK",location:name}],
//               shipping:true, amount:"12.00"}
//   shop.js BASE rest ORDER_GID           -> the REST order JSON (webhook body)
'use strict';
const [base, cmd, arg] = process.argv.slice(2);
const TOKEN = process.env.SHOP_TOKEN || 'shpat_test_token';

async function gql(query, variables) {
  const r = await fetch(`${base}/admin/api/2026-10/graphql.json`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': TOKEN },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
const check = (x, what) => { if (x.userErrors && x.userErrors.length) throw new Error(`${what}: ${JSON.stringify(x.userErrors)}`); return x; };
const money = (a) => ({ shopMoney: { amount: String(a), currencyCode: 'NZD' } });

async function locations() {
  const l = (await gql('{ locations(first: 50) { nodes { id name } } }')).locations.nodes;
  // by name, and by GID (a GID names itself)
  return Object.fromEntries(l.flatMap((x) => [[x.name, x.id], [x.id, x.id]]));
}

async function main() {
  if (cmd === 'setup') {
    let locs = await locations();
    if (!locs['Lambton Quay']) {
      check((await gql(`mutation($i: LocationAddInput!) { locationAdd(input: $i) { location { id } userErrors { field message } } }`,
        { i: { name: 'Lambton Quay', address: { countryCode: 'NZ', city: 'Wellington' }, fulfillsOnlineOrders: true } })).locationAdd, 'locationAdd');
      locs = await locations();
    }
    const variants = {};
    for (const [style, title, price, skus] of [['TEE', 'Tee', '39.90', [['Red', 'M'], ['Red', 'L']]], ['JEANS', 'Jeans', '99.00', [['Indigo', '32']]]]) {
      const p = check((await gql(`mutation($i: ProductSetInput!) { productSet(identifier: {customId: {namespace: "pos", key: "style_code", value: "${style}"}}, input: $i) {
          product { variants(first: 10) { nodes { id sku inventoryItem { id } } } } userErrors { field message } } }`, {
        i: { title, status: 'ACTIVE', metafields: [{ namespace: 'pos', key: 'style_code', type: 'id', value: style }],
          productOptions: [{ name: 'Colour', values: [...new Set(skus.map((s) => s[0]))].map((n) => ({ name: n })) },
                           { name: 'Size', values: skus.map((s) => ({ name: s[1] })) }],
          variants: skus.map(([c, s]) => ({ sku: `${style}-${c.toUpperCase()}-${s}`.replace('-INDIGO', ''), price,
            optionValues: [{ optionName: 'Colour', name: c }, { optionName: 'Size', name: s }],
            // jeans are stocked at Lambton Quay only: an order of a tee and jeans ships from two locations
            inventoryQuantities: Object.entries(locs).filter(([n]) => !n.startsWith('gid:') && (style !== 'JEANS' || n === 'Lambton Quay'))
              .map(([, l]) => ({ locationId: l, name: 'available', quantity: 20 })) })) },
      })).productSet, 'productSet');
      for (const v of p.product.variants.nodes) variants[v.sku] = v.id;
    }
    console.log(JSON.stringify({ locations: Object.fromEntries(Object.entries(locs).filter(([n]) => !n.startsWith('gid:'))), variants }));
    return;
  }
  if (cmd === 'order') {
    const spec = JSON.parse(arg);
    const locs = await locations();
    const lineItems = [];
    for (const l of spec.lines) {
      if (l.sku) {
        const v = (await gql(`query($q: String!) { productVariants(first: 1, query: $q) { nodes { id price } } }`, { q: `sku:${l.sku}` })).productVariants.nodes[0];
        if (!v) throw new Error(`no variant ${l.sku}`);
        lineItems.push({ variantId: v.id, quantity: l.qty });
      } else {
        lineItems.push({ title: l.title, quantity: l.qty, priceSet: money(l.price), giftCard: !!l.giftCard, requiresShipping: !l.giftCard });
      }
    }
    const order = {
      currency: 'NZD', taxesIncluded: spec.taxesIncluded !== false, lineItems,
      taxLines: spec.gst ? [{ title: 'GST', rate: spec.gst }] : [],
      shippingLines: spec.shipping ? [{ title: 'Courier', code: 'COURIER', priceSet: money(spec.shipping), taxLines: spec.gst ? [{ title: 'GST', rate: spec.gst }] : [] }] : [],
    };
    if (spec.customer) { order.customer = { toUpsert: spec.customer }; order.email = spec.customer.email; }
    if (spec.discountPct) order.discountCode = { itemPercentageDiscountCode: { code: 'SAVE', percentage: spec.discountPct } };
    const o = check((await gql(`mutation($order: OrderCreateOrderInput!) { orderCreate(order: $order, options: {inventoryBehaviour: DECREMENT_OBEYING_POLICY}) {
        order { id name totalPriceSet { shopMoney { amount } } lineItems(first: 50) { nodes { id sku title } } fulfillmentOrders(first: 5) { nodes { id } } }
        userErrors { field message } } }`, { order })).orderCreate, 'orderCreate');
    // pay in full
    check((await gql(`mutation($i: OrderMarkAsPaidInput!) { orderMarkAsPaid(input: $i) { order { id } userErrors { field message } } }`,
      { i: { id: o.order.id } })).orderMarkAsPaid, 'orderMarkAsPaid');
    const fos = o.order.fulfillmentOrders.nodes;
    // each fulfillment order shipped whole, from spec.location or where Shopify assigned it
    for (const [n, fo] of o.order.fulfillmentOrders.nodes.entries()) {
      if (spec.fulfil != null && n >= spec.fulfil) break;   // ship only the first spec.fulfil ones
      let foId = fo.id;
      if (spec.location) {
        const m = check((await gql(`mutation($id: ID!, $loc: ID!) { fulfillmentOrderMove(id: $id, newLocationId: $loc) { movedFulfillmentOrder { id } userErrors { field message } } }`,
          { id: foId, loc: locs[spec.location] })).fulfillmentOrderMove, 'fulfillmentOrderMove');
        foId = m.movedFulfillmentOrder.id;
      }
      check((await gql(`mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }`,
        { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: foId }] } })).fulfillmentCreate, 'fulfillmentCreate');
    }
    console.log(JSON.stringify({ id: o.order.id, name: o.order.name, total: o.order.totalPriceSet.shopMoney.amount,
      lineItems: Object.fromEntries(o.order.lineItems.nodes.map((x) => [x.sku || x.title, x.id])) }));
    return;
  }
  if (cmd === 'fulfil') {   // ship every open fulfillment order of ORDER_GID where it is assigned
    const o = (await gql(`query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 10) { nodes { id status } } } }`, { id: arg })).order;
    for (const fo of o.fulfillmentOrders.nodes.filter((x) => x.status === 'OPEN' || x.status === 'IN_PROGRESS')) {
      check((await gql(`mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }`,
        { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: fo.id }] } })).fulfillmentCreate, 'fulfillmentCreate');
    }
    console.log(JSON.stringify({ id: arg }));
    return;
  }
  if (cmd === 'refund') {
    const spec = JSON.parse(arg);
    const locs = await locations();
    const input = { orderId: spec.order, refundLineItems: (spec.lines || []).map((l) => ({ lineItemId: l.lineItem, quantity: l.qty, restockType: l.restock || 'RETURN', locationId: l.location ? locs[l.location] : null })) };
    if (spec.shipping) input.shipping = { fullRefund: true };
    if (spec.amount) input.transactions = [{ orderId: spec.order, kind: 'REFUND', gateway: 'shopify_payments', amount: spec.amount }];
    const key = spec.key || `refund-${Date.now()}-${Math.random()}`;
    const r = check((await gql(`mutation($i: RefundInput!) { refundCreate(input: $i) @idempotent(key: "${key}") {
        refund { id } userErrors { field message } } }`, { i: input })).refundCreate, 'refundCreate');
    console.log(JSON.stringify({ id: r.refund.id }));
    return;
  }
  if (cmd === 'rest') {
    const r = await fetch(`${base}/_sim/orders/${arg.split('/').pop()}/rest`);
    process.stdout.write(JSON.stringify((await r.json()).order));
    return;
  }
  throw new Error('usage: shop.js BASE setup | order SPEC | refund SPEC | rest ORDER_GID');
}
main().catch((e) => { console.error(`shop.js: ${e.message}`); process.exit(1); });
