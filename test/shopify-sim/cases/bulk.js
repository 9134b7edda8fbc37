'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('./helpers');

let t;
before(async () => { t = await start(); });
after(async () => { await t.close(); });

const STAGE = `mutation { stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename: "products.jsonl", mimeType: "text/jsonl", httpMethod: POST}]) {
  stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }`;
const RUN = `mutation($m: String!, $p: String!) { bulkOperationRunMutation(mutation: $m, stagedUploadPath: $p) { bulkOperation { id status } userErrors { field message code } } }`;
const MUT = `mutation call($identifier: ProductSetIdentifiers, $input: ProductSetInput!) { productSet(identifier: $identifier, input: $input) { product { id handle } userErrors { message code } } }`;

async function upload(lines) {
  const s = await t.data(STAGE);
  const target = s.stagedUploadsCreate.stagedTargets[0];
  const fd = new FormData();
  for (const p of target.parameters) fd.append(p.name, p.value);
  fd.append('file', new Blob([lines.map((l) => JSON.stringify(l)).join('\n') + '\n'], { type: 'text/jsonl' }), 'products.jsonl');
  const res = await fetch(target.url, { method: 'POST', body: fd });
  assert.equal(res.status, 201);
  assert.match(await res.text(), /<Key>tmp\/.*products\.jsonl<\/Key>/);
  return target.parameters.find((p) => p.name === 'key').value;
}

test('bulk import round trip: staged upload, run productSet per line, poll, download results', async () => {
  const lines = [];
  for (let i = 1; i <= 30; i++) lines.push({ identifier: { customId: { namespace: 'pos', key: 'product_id', value: `P-${i}` } }, input: { title: `Bulk ${i}`, metafields: [{ namespace: 'pos', key: 'product_id', type: 'id', value: `P-${i}` }] } });
  lines.push({ identifier: { handle: 'x' }, input: { title: 'bad', handle: 'y' } }); // userError line
  const path = await upload(lines);
  const costBefore = (await t.ctl('counters')).costSpent;
  const r = await t.data(RUN, { m: MUT, p: path });
  assert.deepEqual(r.bulkOperationRunMutation.userErrors, []);
  assert.equal(r.bulkOperationRunMutation.bulkOperation.status, 'CREATED');
  const id = r.bulkOperationRunMutation.bulkOperation.id;
  let op;
  for (let i = 0; i < 500; i++) {
    op = (await t.data('query($id: ID!) { bulkOperation(id: $id) { id status objectCount rootObjectCount url fileSize completedAt } }', { id })).bulkOperation;
    if (op.status === 'COMPLETED') break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(op.status, 'COMPLETED');
  assert.equal(op.objectCount, '31');
  const body = await (await fetch(op.url)).text();
  const out = body.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 31);
  assert.equal(out[0].__lineNumber, 0);
  assert.equal(out[0].data.productSet.product.handle, 'bulk-1');
  assert.equal(out[30].data.productSet.userErrors[0].code, 'INPUT_MISMATCH');
  const st = await t.ctl('state');
  assert.equal(st.products.length, 30);
  // bulk lines are not charged to the bucket (only the run mutation itself)
  assert.ok((await t.ctl('counters')).costSpent - costBefore < 60);
  const list = await t.data('{ bulkOperations(first: 5, query: "status:completed") { nodes { id } } }');
  assert.equal(list.bulkOperations.nodes[0].id, id);
  // re-running the same file updates rather than duplicates (customId upsert)
  const r2 = await t.data(RUN, { m: MUT, p: path });
  const id2 = r2.bulkOperationRunMutation.bulkOperation.id;
  for (let i = 0; i < 500; i++) {
    op = (await t.data('query($id: ID!) { bulkOperation(id: $id) { status } }', { id: id2 })).bulkOperation;
    if (op.status === 'COMPLETED') break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal((await t.ctl('state')).products.length, 30);
});

test('bulk errors: missing file, invalid mutation', async () => {
  const a = await t.data(RUN, { m: MUT, p: 'tmp/none/bulk/x.jsonl' });
  assert.equal(a.bulkOperationRunMutation.userErrors[0].code, 'NO_SUCH_FILE');
  const path = await upload([{ input: { title: 'x' } }]);
  const b = await t.data(RUN, { m: 'mutation { productSet(input: {title: "x"}) { nope } }', p: path });
  assert.equal(b.bulkOperationRunMutation.userErrors[0].code, 'INVALID_MUTATION');
  const c = await t.data(RUN, { m: '{ shop { name } }', p: path });
  assert.equal(c.bulkOperationRunMutation.userErrors[0].code, 'INVALID_MUTATION');
});

// ---- bulk queries
const RUNQ = `mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status type } userErrors { field message code } } }`;
const POLL = 'query($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url fileSize type } }';

async function runQuery(q) {
  const r = await t.data(RUNQ, { q });
  assert.deepEqual(r.bulkOperationRunQuery.userErrors, []);
  assert.equal(r.bulkOperationRunQuery.bulkOperation.status, 'CREATED');
  assert.equal(r.bulkOperationRunQuery.bulkOperation.type, 'QUERY');
  const id = r.bulkOperationRunQuery.bulkOperation.id;
  let op;
  const seen = new Set();
  for (let i = 0; i < 500; i++) {
    op = (await t.data(POLL, { id })).bulkOperation;
    seen.add(op.status);
    if (!['CREATED', 'RUNNING', 'CANCELING'].includes(op.status)) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  return { op, seen };
}

async function someProducts(n, sizes) {
  for (let i = 1; i <= n; i++) {
    await t.data(`mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { message } } }`, {
      input: { title: `Bulk q ${i}`, productOptions: [{ name: 'Size', values: sizes.map((s) => ({ name: s })) }],
        variants: sizes.map((s) => ({ optionValues: [{ optionName: 'Size', name: s }], sku: `BQ-${i}-${s}`, price: '10.00' })) },
    });
  }
}

test('bulk query: products with nested variants, one JSONL line per node, __parentId, same data as a paged query', async () => {
  await t.ctl('reset', { plan: 'plus' });
  await someProducts(260, ['S', 'M']); // more than one page of 250
  const q = '{ products { edges { node { id title variants { nodes { id sku price inventoryItem { id } } } } } } }';
  const costBefore = (await t.ctl('counters')).costSpent;
  const { op } = await runQuery(q);
  const costAfterBulk = (await t.ctl('counters')).costSpent;
  assert.equal(op.status, 'COMPLETED');
  assert.equal(op.objectCount, String(260 * 3));
  assert.equal(op.rootObjectCount, '260');
  const body = await (await fetch(op.url)).text();
  assert.equal(String(Buffer.byteLength(body)), op.fileSize);
  const lines = body.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 780);
  const products = lines.filter((l) => l.__parentId === undefined);
  const variants = lines.filter((l) => l.__parentId !== undefined);
  assert.equal(products.length, 260);
  assert.deepEqual(Object.keys(products[0]).sort(), ['id', 'title']);
  assert.match(variants[0].__parentId, /^gid:\/\/shopify\/Product\//);
  assert.match(variants[0].inventoryItem.id, /^gid:\/\/shopify\/InventoryItem\//);
  // a child follows its parent
  const at = new Map(lines.map((l, i) => [l.id, i]));
  for (const v of variants) assert.ok(at.get(v.__parentId) < at.get(v.id));
  // the same data as ordinary paged queries
  const paged = [];
  let after = null;
  for (;;) {
    const d = await t.data('query($a: String) { products(first: 100, after: $a) { nodes { id title variants(first: 3) { nodes { id sku price inventoryItem { id } } } } pageInfo { hasNextPage endCursor } } }', { a: after });
    paged.push(...d.products.nodes);
    if (!d.products.pageInfo.hasNextPage) break;
    after = d.products.pageInfo.endCursor;
  }
  const rebuilt = products.map((p) => Object.assign({}, p, { variants: { nodes: variants.filter((v) => v.__parentId === p.id).map((v) => { const c = Object.assign({}, v); delete c.__parentId; return c; }) } }));
  assert.deepEqual(rebuilt, paged);
  // the operation's lines are not charged (the mutation and the polls are): far less than the paged reads
  const bulkCost = costAfterBulk - costBefore;
  const pagedCost = (await t.ctl('counters')).costSpent - costAfterBulk;
  assert.ok(bulkCost * 5 < pagedCost, `bulk ${bulkCost} vs paged ${pagedCost}`);
  // currentBulkOperation(type: QUERY) is this one
  const cur = await t.data('{ currentBulkOperation { id status type } }');
  assert.equal(cur.currentBulkOperation.id, op.id);
});

test('bulk query: inventory items with their levels, customers', async () => {
  await t.ctl('reset', {});
  await someProducts(3, ['S']);
  const loc = await t.defaultLocation();
  const st = await t.ctl('state');
  await t.ctl('tamper', { op: 'setOnHand', sku: 'BQ-2-S', locationId: loc, quantity: 7 });
  const { op } = await runQuery(`{ inventoryItems { nodes { id inventoryLevels { nodes { location { id } quantities(names: ["on_hand"]) { name quantity } } } } } }`);
  assert.equal(op.status, 'COMPLETED');
  const lines = (await (await fetch(op.url)).text()).trim().split('\n').map((l) => JSON.parse(l));
  const item2 = st.inventoryItems.find((i) => i.sku === 'BQ-2-S').id;
  const lv = lines.find((l) => l.__parentId === item2 && l.location.id === loc);
  assert.deepEqual(lv.quantities, [{ name: 'on_hand', quantity: 7 }]);
  assert.equal(lines.filter((l) => l.__parentId === undefined).length, 3);
  await t.data('mutation { customerSet(input: {email: "bq@example.com", firstName: "B"}) { userErrors { message } } }');
  const c = await runQuery('{ customers { nodes { id firstName defaultEmailAddress { emailAddress } } } }');
  const cl = (await (await fetch(c.op.url)).text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(cl.map((x) => x.defaultEmailAddress.emailAddress), ['bq@example.com']);
});

test('bulk query errors: invalid queries are userErrors, five at a time, fault injection', async () => {
  await t.ctl('reset', {});
  const bad = async (q, re) => {
    const r = await t.data(RUNQ, { q });
    assert.equal(r.bulkOperationRunQuery.bulkOperation, null, q);
    assert.equal(r.bulkOperationRunQuery.userErrors[0].code, 'INVALID', q);
    assert.deepEqual(r.bulkOperationRunQuery.userErrors[0].field, ['query']);
    assert.match(r.bulkOperationRunQuery.userErrors[0].message, re, q);
  };
  await bad('{ products { nodes { nope } } }', /Invalid bulk query: Cannot query field "nope"/);
  await bad('{ products { nodes { id } ', /Invalid bulk query: Syntax Error/);
  await bad('{ shop { name } }', /at least one connection/);
  await bad('{ products { nodes { id } } customers { nodes { id } } }', /exactly one top-level field/);
  await bad('mutation { productDelete(input: {id: "gid://shopify/Product/1"}) { deletedProductId } }', /one query operation/);
  await bad('{ products { nodes { id variants { nodes { id inventoryItem { id inventoryLevels { nodes { id } } } } } } } }', /nesting depth greater than 2/);
  await bad('{ products { nodes { title variants { nodes { id } } } } }', /must select the 'id' field/);
  await bad(`{ products { nodes { id variants { nodes { id } } media { nodes { id } } collections { nodes { id } }
    metafields { nodes { id } } resourcePublications { nodes { isPublished } } } } }`, /more than 5 connections/);
  // LIMIT_REACHED past five running bulk queries
  await t.ctl('config', { faults: { bulkQuery: 'STALL' } });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await t.data(RUNQ, { q: '{ products { nodes { id } } }' })).bulkOperationRunQuery.bulkOperation.id);
  const sixth = await t.data(RUNQ, { q: '{ products { nodes { id } } }' });
  assert.equal(sixth.bulkOperationRunQuery.userErrors[0].code, 'LIMIT_REACHED');
  for (const id of ids) await t.data('mutation($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }', { id });
  await new Promise((res) => setTimeout(res, 50));
  assert.equal((await t.data(POLL, { id: ids[0] })).bulkOperation.status, 'CANCELED');
  // forced failure
  await t.ctl('config', { faults: { bulkQuery: 'FAILED' } });
  const f = await runQuery('{ products { nodes { id } } }');
  assert.equal(f.op.status, 'FAILED');
  assert.equal(f.op.errorCode, 'INTERNAL_SERVER_ERROR');
  assert.equal(f.op.url, null);
  await t.ctl('config', { faults: { bulkQuery: 'TIMEOUT' } });
  assert.equal((await runQuery('{ products { nodes { id } } }')).op.errorCode, 'TIMEOUT');
  await t.ctl('config', { faults: {} });
  assert.equal((await runQuery('{ products { nodes { id } } }')).op.status, 'COMPLETED');
  // an ordinary query still needs first/last
  const r = await t.gql('{ products { nodes { id } } }');
  assert.match(JSON.stringify(r.body.errors), /you must provide one of first or last/);
});
