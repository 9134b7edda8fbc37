'use strict';
// Test helpers: start the simulator in-process on port 0 and talk to it over HTTP.
const { createServer } = require('../server');

const TOKEN = 'shpat_test_token';

async function start(opts) {
  const srv = createServer(Object.assign({}, opts || {}));
  await srv.listen(0);
  const base = srv.url;
  async function gql(query, variables, o) {
    o = o || {};
    const headers = { 'Content-Type': 'application/json' };
    const token = o.token === undefined ? TOKEN : o.token;
    if (token) headers['X-Shopify-Access-Token'] = token;
    const res = await fetch(`${base}/admin/api/${o.version || '2026-10'}/graphql.json`, {
      method: 'POST', headers, body: JSON.stringify({ query, variables, operationName: o.operationName }), signal: o.signal,
    });
    const text = await res.text();
    let body; try { body = JSON.parse(text); } catch (e) { body = text; }
    return { status: res.status, headers: res.headers, body };
  }
  async function ctl(path, body) {
    const res = await fetch(`${base}/_sim/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return res.json();
  }
  // run a GraphQL call and assert no top-level errors; returns data
  async function data(query, variables, o) {
    const r = await gql(query, variables, o);
    if (r.status !== 200 || r.body.errors) throw new Error(`unexpected errors: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.data;
  }
  const defaultLocation = async () => (await ctl('state')).locations[0].id;
  return { srv, sim: srv.sim, base, gql, ctl, data, defaultLocation, close: () => srv.close() };
}

const PRODUCT_SET = `mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product { id handle title status
      metafields(first: 10) { nodes { namespace key type value } }
      variants(first: 50) { nodes { id sku price selectedOptions { name value } inventoryItem { id } } } }
    userErrors { field message code }
  }
}`;

const SET_QTY = `mutation InventorySet($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}`;

const LEVEL = `query Level($id: ID!, $loc: ID!) {
  inventoryItem(id: $id) { id sku inventoryLevel(locationId: $loc) { id quantities(names: ["available", "on_hand", "committed"]) { name quantity } } }
}`;

async function levelOf(t, itemId, locId) {
  const d = await t.data(LEVEL, { id: itemId, loc: locId });
  const l = d.inventoryItem.inventoryLevel;
  if (!l) return null;
  return Object.fromEntries(l.quantities.map((q) => [q.name, q.quantity]));
}

function sizeProduct(sizes, extra) {
  return Object.assign({
    title: 'Linen shirt', status: 'ACTIVE',
    productOptions: [{ name: 'Size', values: sizes.map((s) => ({ name: s })) }],
    variants: sizes.map((s) => ({ optionValues: [{ optionName: 'Size', name: s }], sku: `SHIRT-${s}`, price: '39.90' })),
  }, extra || {});
}

module.exports = { start, TOKEN, PRODUCT_SET, SET_QTY, LEVEL, levelOf, sizeProduct };
