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
