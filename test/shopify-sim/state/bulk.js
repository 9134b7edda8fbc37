'use strict';
// stagedUploadsCreate + staged upload store, bulkOperationRunMutation (one JSONL line = one execution of the
// mutation, asynchronous CREATED -> RUNNING -> COMPLETED), bulkOperation(s) queries.
const crypto = require('node:crypto');
const { parse, Kind, validate, getOperationAST } = require('graphql');
const { userError, parseGid, gqlError } = require('../util');
const { filterByQuery, strMatch } = require('./search');

const MAX_CONCURRENT = 5;

function bulkResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;

  function stagedUploadsCreate(args, ctx) {
    const targets = []; const errs = [];
    args.input.forEach((inp, i) => {
      if (inp.resource !== 'BULK_MUTATION_VARIABLES') {
        errs.push(userError(['input', String(i), 'resource'], `The simulator only supports BULK_MUTATION_VARIABLES staged uploads (got ${inp.resource}).`));
        return;
      }
      const key = `tmp/${S().nextNum('StagedUpload')}/bulk/${crypto.randomUUID()}/${inp.filename}`;
      const url = `${sim.baseUrl()}/_sim/staged-uploads`;
      targets.push({ __typename: 'StagedMediaUploadTarget', url, resourceUrl: `${url}/${key}`, parameters: [
        { name: 'key', value: key }, { name: 'Content-Type', value: inp.mimeType }, { name: 'success_action_status', value: '201' },
        { name: 'acl', value: 'private' }, { name: 'policy', value: Buffer.from(JSON.stringify({ key })).toString('base64') },
        { name: 'x-goog-credential', value: 'sim@shopify-sim.iam.gserviceaccount.com/20261126/auto/storage/goog4_request' },
        { name: 'x-goog-algorithm', value: 'GOOG4-RSA-SHA256' }, { name: 'x-goog-date', value: '20261126T000000Z' },
        { name: 'x-goog-signature', value: crypto.randomBytes(16).toString('hex') },
      ].map((p) => Object.assign({ __typename: 'StagedUploadParameter' }, p)) });
    });
    if (errs.length) return { stagedTargets: null, userErrors: errs };
    return { stagedTargets: targets, userErrors: [] };
  }

  function bulkOperationRunMutation(args, ctx) {
    const st = S();
    const out = (e) => ({ bulkOperation: null, userErrors: e });
    let doc;
    try { doc = parse(args.mutation); } catch (e) { return out([userError(['mutation'], `Invalid mutation: ${e.message}`, 'INVALID_MUTATION')]); }
    const verr = validate(sim.schema, doc);
    if (verr.length) return out([userError(['mutation'], `Invalid mutation: ${verr[0].message}`, 'INVALID_MUTATION')]);
    const op = getOperationAST(doc);
    if (!op || op.operation !== 'mutation') return out([userError(['mutation'], 'Invalid mutation: the document must contain exactly one mutation operation.', 'INVALID_MUTATION')]);
    const roots = op.selectionSet.selections.filter((s) => s.kind === Kind.FIELD);
    if (roots.length !== 1) return out([userError(['mutation'], 'Invalid mutation: a bulk mutation must have exactly one root field.', 'INVALID_MUTATION')]);
    if (roots[0].name.value.startsWith('bulkOperation')) return out([userError(['mutation'], 'Invalid mutation: bulk operations cannot be nested.', 'INVALID_MUTATION')]);
    const file = st.stagedUploads.get(args.stagedUploadPath);
    if (!file) return out([userError(['stagedUploadPath'], 'The JSONL file could not be found. Try uploading the file again, and check that you\'ve entered the URL correctly for the stagedUploadPath mutation argument.', 'NO_SUCH_FILE')]);
    const running = [...st.bulkOps.values()].filter((b) => b.type === 'MUTATION' && (b.status === 'CREATED' || b.status === 'RUNNING'));
    if (running.length >= MAX_CONCURRENT) return out([userError(null, `A maximum of ${MAX_CONCURRENT} bulk mutations can run at the same time.`, 'LIMIT_REACHED')]);
    const num = st.nextNum('BulkOperation');
    const b = { id: `gid://shopify/BulkOperation/${num}`, num, type: 'MUTATION', status: 'CREATED', query: args.mutation, createdAt: st.nowMs(), completedAt: null,
      objectCount: 0, rootObjectCount: 0, fileSize: null, url: null, errorCode: null, clientIdentifier: args.clientIdentifier || null, results: [] };
    st.bulkOps.set(num, b);
    ctx.sim.counters.mutationsApplied++;
    const lines = file.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    const gen = st.generation;
    setImmediate(() => runLines(b, args.mutation, lines, gen));
    return { bulkOperation: V().bulkView(b), userErrors: [] };
  }

  function runLines(b, mutation, lines, gen) {
    if (S().generation !== gen || b.status === 'CANCELING' || b.status === 'CANCELED') { if (b.status === 'CANCELING') b.status = 'CANCELED'; return; }
    b.status = 'RUNNING';
    let i = 0;
    const step = () => {
      if (S().generation !== gen) return;
      if (b.status === 'CANCELING') { b.status = 'CANCELED'; b.completedAt = S().nowMs(); return finish(b); }
      const end = Math.min(lines.length, i + 20);
      for (; i < end; i++) {
        let vars;
        try { vars = JSON.parse(lines[i]); } catch (e) {
          b.results.push({ errors: [{ message: `Invalid JSON on line ${i + 1}` }], __lineNumber: i });
          continue;
        }
        let r;
        try { r = sim.executor.run({ query: mutation, variables: vars }, { charge: false, bulk: true }); } catch (e) {
          r = { body: { errors: [{ message: `Internal error: ${e.message}`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] } };
        }
        const line = {};
        if (r.body.errors) line.errors = r.body.errors;
        if (r.body.data !== undefined) line.data = r.body.data;
        line.__lineNumber = i;
        b.results.push(line);
        b.objectCount++; b.rootObjectCount++;
      }
      if (i < lines.length) return setImmediate(step);
      b.status = 'COMPLETED'; b.completedAt = S().nowMs();
      finish(b);
    };
    setImmediate(step);
  }

  function finish(b) {
    const body = b.results.map((r) => JSON.stringify(r)).join('\n') + (b.results.length ? '\n' : '');
    b.resultBody = body;
    b.fileSize = Buffer.byteLength(body);
    b.url = `${sim.baseUrl()}/_sim/bulk-results/${b.num}.jsonl`;
    sim.webhooks.emit('bulk_operations/finish', b);
  }

  function bulkOperationCancel(args, ctx) {
    const b = S().get('BulkOperation', args.id);
    if (!b) return { bulkOperation: null, userErrors: [userError(['id'], 'Bulk operation does not exist')] };
    if (b.status === 'CREATED' || b.status === 'RUNNING') b.status = 'CANCELING';
    else return { bulkOperation: V().bulkView(b), userErrors: [userError(['id'], `A bulk operation cannot be canceled when it is ${b.status.toLowerCase()}`)] };
    return { bulkOperation: V().bulkView(b), userErrors: [] };
  }

  return {
    Query: {
      bulkOperation: (a) => V().bulkView(S().get('BulkOperation', a.id)),
      bulkOperations: (a) => {
        const list = filterByQuery([...S().bulkOps.values()], a.query, {
          status: (b, t) => b.status === t.value.toUpperCase(), operation_type: (b, t) => b.type === t.value.toUpperCase(),
          id: (b, t) => String(b.num) === t.value,
        }, () => true);
        return V().conn(list.map((b) => Object.assign(V().bulkView(b), { __raw: b })), a, (x) => [x.__raw.createdAt, x.__raw.num]);
      },
      currentBulkOperation: (a) => {
        const type = a.type || 'QUERY';
        const list = [...S().bulkOps.values()].filter((b) => b.type === type);
        return list.length ? V().bulkView(list[list.length - 1]) : null;
      },
    },
    Mutation: { stagedUploadsCreate, bulkOperationRunMutation, bulkOperationCancel },
  };
}

module.exports = { bulkResolvers };
