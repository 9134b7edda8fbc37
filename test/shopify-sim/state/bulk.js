'use strict';
// stagedUploadsCreate + staged upload store, bulkOperationRunMutation (one JSONL line = one execution of the
// mutation, asynchronous CREATED -> RUNNING -> COMPLETED), bulkOperationRunQuery (the query executed once by
// the simulator's own resolvers with pagination lifted, flattened to one JSONL line per connection node,
// nested connection nodes on lines of their own with __parentId), bulkOperation(s) queries.
//
// Shopify's rules for a bulk query (2026-10): exactly one top-level field, a connection; at most five
// connections, nested at most two levels deep; a node with a nested connection selects its id; no connection
// inside a list field; up to five bulk query operations running at a time per shop (2026-01 and later).
// Fault injection: faults.bulkQuery = 'FAILED' (errorCode INTERNAL_SERVER_ERROR), 'TIMEOUT' (FAILED with
// errorCode TIMEOUT), 'CANCELED' or 'STALL' (stays RUNNING until canceled) applies to every bulk query.
const crypto = require('node:crypto');
const { parse, Kind, validate, getOperationAST, getNamedType, getNullableType, isListType, isNonNullType } = require('graphql');
const { isConnectionType } = require('../cost');
const { userError, parseGid, gqlError } = require('../util');
const { filterByQuery, strMatch } = require('./search');

const MAX_CONCURRENT = 5;
const MAX_QUERY_CONNECTIONS = 5;
const MAX_QUERY_DEPTH = 2;
const QUERY_LINES_PER_STEP = 200;

// A field's list-ness through NonNull wrappers.
function isListField(def) { return isListType(getNullableType(def.type)); }

// fieldsOf(selectionSet, type, out): the fields of a selection with the type they are selected on,
// through inline fragments and fragment spreads
function fieldLister(schema, doc) {
  const frags = {};
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) frags[d.name.value] = d;
  const fieldsOf = (ss, type, out) => {
    for (const s of ss.selections) {
      if (s.kind === Kind.FIELD) out.push({ node: s, type });
      else if (s.kind === Kind.INLINE_FRAGMENT) fieldsOf(s.selectionSet, s.typeCondition ? schema.getType(s.typeCondition.name.value) : type, out);
      else if (s.kind === Kind.FRAGMENT_SPREAD && frags[s.name.value]) fieldsOf(frags[s.name.value].selectionSet, schema.getType(frags[s.name.value].typeCondition.name.value), out);
    }
    return out;
  };
  return fieldsOf;
}

// Checks a bulk query's shape against the schema; returns an error message or null.
function checkBulkQuery(schema, doc, op) {
  const fieldsOf = fieldLister(schema, doc);
  const roots = fieldsOf(op.selectionSet, schema.getQueryType(), []).filter((f) => !f.node.name.value.startsWith('__'));
  if (roots.length !== 1) return 'Bulk queries must contain exactly one top-level field.';
  const rootDef = schema.getQueryType().getFields()[roots[0].node.name.value];
  if (!isConnectionType(getNamedType(rootDef.type))) return 'Bulk queries must contain at least one connection, as their top-level field.';
  let connections = 0;
  let problem = null;
  // walk: depth = connections above and including this one; inList = under a list field
  const walk = (ss, type, depth, inList, isNode) => {
    if (!ss || problem) return;
    const fields = fieldsOf(ss, type, []);
    let hasNested = false;
    for (const { node, type: t } of fields) {
      const def = t.getFields ? t.getFields()[node.name.value] : null;
      if (!def) continue;
      const named = getNamedType(def.type);
      if (isConnectionType(named)) {
        if (inList) { problem = 'Queries that contain a connection field within a list field are not currently supported.'; return; }
        connections++;
        if (connections > MAX_QUERY_CONNECTIONS) { problem = `Bulk queries cannot contain more than ${MAX_QUERY_CONNECTIONS} connections.`; return; }
        if (depth + 1 > MAX_QUERY_DEPTH) { problem = `Bulk queries cannot contain connections with a nesting depth greater than ${MAX_QUERY_DEPTH}.`; return; }
        hasNested = true;
        for (const s of fieldsOf(node.selectionSet, named, [])) {
          const n = s.node.name.value;
          if (n === 'nodes') walk(s.node.selectionSet, getNamedType(named.getFields().nodes.type), depth + 1, false, true);
          else if (n === 'edges') {
            const edge = getNamedType(named.getFields().edges.type);
            for (const e of fieldsOf(s.node.selectionSet, edge, [])) if (e.node.name.value === 'node') walk(e.node.selectionSet, getNamedType(edge.getFields().node.type), depth + 1, false, true);
          }
        }
      } else if (node.selectionSet) walk(node.selectionSet, named, depth, inList || isListField(def), false);
    }
    if (isNode && hasNested && !fields.some(({ node }) => node.name.value === 'id' && !node.alias)) {
      problem = 'The parent \'node\' field for a nested connection must select the \'id\' field without an alias and must be of \'ID\' return type.';
    }
  };
  walk(op.selectionSet, schema.getQueryType(), 0, false, false);
  return problem;
}

// The executed result as JSONL lines: every connection node its own line (edges/node and nodes unwrapped),
// nested connections removed from their node and their nodes given __parentId = the enclosing node's id.
// Children follow their parent.
function flattenBulk(schema, doc, op, data) {
  const fieldsOf = fieldLister(schema, doc);
  const lines = [];
  let roots = 0;
  // nodes of a connection value with the selection that applies to them
  const nodesOf = (value, connType, ss) => {
    const out = [];
    if (value == null) return out;
    for (const { node } of fieldsOf(ss, connType, [])) {
      const key = node.alias ? node.alias.value : node.name.value;
      const nodeT = (f) => getNamedType(f.type);
      if (node.name.value === 'nodes') for (const n of value[key] || []) out.push({ value: n, type: nodeT(connType.getFields().nodes), ss: node.selectionSet });
      else if (node.name.value === 'edges') {
        const edgeT = getNamedType(connType.getFields().edges.type);
        for (const e of value[key] || []) {
          for (const { node: en } of fieldsOf(node.selectionSet, edgeT, [])) {
            if (en.name.value !== 'node' || !e) continue;
            out.push({ value: e[en.alias ? en.alias.value : 'node'], type: nodeT(edgeT.getFields().node), ss: en.selectionSet });
          }
        }
      }
    }
    return out;
  };
  // copy of value without its connections; the connections' nodes are queued on `later`
  const strip = (value, type, ss, parentId, later) => {
    if (value == null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => strip(v, type, ss, parentId, later));
    const out = {};
    for (const { node, type: t } of fieldsOf(ss, type, [])) {
      const key = node.alias ? node.alias.value : node.name.value;
      if (!(key in value)) continue;
      const def = t.getFields ? t.getFields()[node.name.value] : null;
      const named = def ? getNamedType(def.type) : null;
      if (named && isConnectionType(named)) {
        for (const n of nodesOf(value[key], named, node.selectionSet)) later.push({ n, parentId });
        continue;
      }
      out[key] = node.selectionSet && named ? strip(value[key], named, node.selectionSet, parentId, later) : value[key];
    }
    return out;
  };
  const emit = (n, parentId) => {
    if (n.value == null) return;
    const later = [];
    const line = strip(n.value, n.type, n.ss, n.value.id, later);
    if (parentId !== undefined) line.__parentId = parentId;
    else roots++;
    lines.push(line);
    for (const c of later) emit(c.n, c.parentId);
  };
  const root = fieldsOf(op.selectionSet, schema.getQueryType(), []).find((f) => !f.node.name.value.startsWith('__')).node;
  const rootType = getNamedType(schema.getQueryType().getFields()[root.name.value].type);
  for (const n of nodesOf(data[root.alias ? root.alias.value : root.name.value], rootType, root.selectionSet)) emit(n, undefined);
  return { lines, roots };
}

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

  function bulkOperationRunQuery(args, ctx) {
    const st = S();
    const out = (e) => ({ bulkOperation: null, userErrors: e });
    const bad = (msg) => out([userError(['query'], msg, 'INVALID')]);
    let doc;
    try { doc = parse(args.query); } catch (e) { return bad(`Invalid bulk query: ${e.message}`); }
    const verr = validate(sim.schema, doc);
    if (verr.length) return bad(`Invalid bulk query: ${verr[0].message}`);
    const op = getOperationAST(doc);
    if (!op || op.operation !== 'query') return bad('Invalid bulk query: the document must contain exactly one query operation.');
    if ((op.variableDefinitions || []).length) return bad('Invalid bulk query: bulk queries cannot take variables.');
    const problem = checkBulkQuery(sim.schema, doc, op);
    if (problem) return bad(problem);
    const running = [...st.bulkOps.values()].filter((b) => b.type === 'QUERY' && (b.status === 'CREATED' || b.status === 'RUNNING' || b.status === 'CANCELING'));
    if (running.length >= MAX_CONCURRENT) return out([userError(null, `A maximum of ${MAX_CONCURRENT} bulk queries can run at the same time.`, 'LIMIT_REACHED')]);
    const num = st.nextNum('BulkOperation');
    const b = { id: `gid://shopify/BulkOperation/${num}`, num, type: 'QUERY', status: 'CREATED', query: args.query, createdAt: st.nowMs(), completedAt: null,
      objectCount: 0, rootObjectCount: 0, fileSize: null, url: null, errorCode: null, results: [] };
    st.bulkOps.set(num, b);
    const gen = st.generation;
    const fault = sim.faults.cfg.bulkQuery || null;
    setImmediate(() => runQuery(b, doc, op, gen, fault));
    return { bulkOperation: V().bulkView(b), userErrors: [] };
  }

  // Runs asynchronously: RUNNING, the query executed once (pagination lifted, nothing charged), the lines
  // counted in over a few steps, then COMPLETED with the result file.
  function runQuery(b, doc, op, gen, fault) {
    if (S().generation !== gen) return;
    if (b.status === 'CANCELING') { b.status = 'CANCELED'; b.completedAt = S().nowMs(); return; }
    b.status = 'RUNNING';
    if (fault === 'STALL') return; // until bulkOperationCancel
    let lines;
    let roots;
    const st = S();
    st.liftPagination = true;
    try {
      const r = sim.executor.run({ query: b.query }, { charge: false, bulk: true });
      if (r.body.errors || !r.body.data) throw new Error(JSON.stringify(r.body.errors || 'no data'));
      ({ lines, roots } = flattenBulk(sim.schema, doc, op, r.body.data));
    } catch (e) {
      b.status = 'FAILED'; b.errorCode = 'INTERNAL_SERVER_ERROR'; b.completedAt = st.nowMs();
      return sim.webhooks.emit('bulk_operations/finish', b);
    } finally { st.liftPagination = false; }
    let i = 0;
    let rootsDone = 0;
    const step = () => {
      if (S().generation !== gen) return;
      if (b.status === 'CANCELING') { b.status = 'CANCELED'; b.completedAt = S().nowMs(); return sim.webhooks.emit('bulk_operations/finish', b); }
      const end = Math.min(lines.length, i + QUERY_LINES_PER_STEP);
      for (; i < end; i++) { b.results.push(lines[i]); b.objectCount++; if (lines[i].__parentId === undefined) rootsDone++; }
      b.rootObjectCount = rootsDone;
      if (fault && i >= lines.length / 2) {
        b.completedAt = S().nowMs();
        if (fault === 'CANCELED') b.status = 'CANCELED';
        else { b.status = 'FAILED'; b.errorCode = fault === 'TIMEOUT' ? 'TIMEOUT' : 'INTERNAL_SERVER_ERROR'; }
        return sim.webhooks.emit('bulk_operations/finish', b);
      }
      if (i < lines.length) return setImmediate(step);
      void roots;
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
    if (b.status === 'CREATED' || b.status === 'RUNNING') {
      b.status = 'CANCELING';
      // a stalled bulk query has no step left to notice: it ends here, asynchronously
      if (b.type === 'QUERY') setImmediate(() => { if (b.status === 'CANCELING') { b.status = 'CANCELED'; b.completedAt = S().nowMs(); } });
    }
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
    Mutation: { stagedUploadsCreate, bulkOperationRunMutation, bulkOperationRunQuery, bulkOperationCancel },
  };
}

module.exports = { bulkResolvers, checkBulkQuery, flattenBulk };
