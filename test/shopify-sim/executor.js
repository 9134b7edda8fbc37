'use strict';
// Request pipeline: parse -> validate (real 2026-10 schema) -> coerce variables -> runtime rules
// (@idempotent required) -> cost (MAX_COST_EXCEEDED) -> leaky bucket (THROTTLED) -> execute -> actual cost.
const {
  parse, validate, execute, getOperationAST, Kind, GraphQLError, getNamedType, getNullableType,
  isNonNullType, isListType, isEnumType, isScalarType, isObjectType, valueFromASTUntyped, getDirectiveValues, print,
} = require('graphql');
const { getVariableValues } = require('graphql/execution/values');
const { requestedCost, actualCost } = require('./cost');
const { gqlError, hash, userError } = require('./util');
const { iso } = require('./state/views');

const { specifiedRules, KnownTypeNamesRule } = require('graphql');

// KnownTypeNamesRule lists all ~3500 type names on every run (for suggestions); only do that on a miss.
function LazyKnownTypeNamesRule(context) {
  const types = context.getSchema().getTypeMap();
  let full = null;
  return {
    NamedType(node, ...rest) {
      if (types[node.name.value]) return;
      full = full || KnownTypeNamesRule(context);
      full.NamedType(node, ...rest);
    },
  };
}
const RULES = specifiedRules.map((r) => (r === KnownTypeNamesRule ? LazyKnownTypeNamesRule : r));

const IDEMPOTENT_REQUIRED = new Set(['inventorySetQuantities', 'inventoryAdjustQuantities', 'inventoryActivate', 'locationActivate', 'locationDeactivate', 'refundCreate']);
const MAX_COST = 1000;
const MAX_INPUT_ARRAY = 250;

function validationCode(msg) {
  if (/^Cannot query field/.test(msg)) return 'undefinedField';
  if (/^Unknown argument/.test(msg)) return 'argumentNotAccepted';
  if (/argument .* is required, but it was not provided/.test(msg)) return 'missingRequiredArguments';
  if (/^Field .* is not defined by type/.test(msg)) return 'argumentLiteralsIncompatible';
  if (/must specify exactly one key|OneOf/.test(msg)) return 'argumentLiteralsIncompatible';
  if (/^Variable .* is never used|is not defined/.test(msg)) return 'variableNotUsed';
  if (/^Unknown type/.test(msg)) return 'undefinedType';
  if (/^Expected value of type|cannot represent/.test(msg)) return 'argumentLiteralsIncompatible';
  if (/^Variable .* of type .* used in position expecting/.test(msg)) return 'variableMismatch';
  if (/must have a selection of subfields|must not have a selection/.test(msg)) return 'selectionMismatch';
  if (/^Unknown directive/.test(msg)) return 'undefinedDirective';
  return 'GRAPHQL_VALIDATION_FAILED';
}

function fmtErr(e, code) {
  const j = e.toJSON ? e.toJSON() : { message: String(e.message || e) };
  const out = { message: j.message };
  if (j.locations) out.locations = j.locations;
  if (j.path) out.path = j.path;
  out.extensions = Object.assign({}, j.extensions || {});
  if (!out.extensions.code && code) out.extensions.code = code;
  return out;
}

// graphql-js coercion errors rewritten in Shopify's shape:
//   "Variable $input of type X! was provided invalid value for a.0.b (explanation)"
//   extensions: { code: INVALID_VARIABLE, value, problems: [{ path, explanation }] }
function shopifyVariableError(e, op, rawVariables) {
  const base = fmtErr(e, 'INVALID_VARIABLE');
  const msg = e.message;
  let name; let at = null; let explanation = null;
  let m;
  if ((m = /^Variable "\$(\w+)" got invalid value [\s\S]*?(?: at "([^"]+)")?; ([\s\S]*)$/.exec(msg))) { name = m[1]; at = m[2] || null; explanation = m[3]; }
  else if ((m = /^Variable "\$(\w+)" of required type "[^"]+" was not provided\.$/.exec(msg))) { name = m[1]; explanation = 'Expected value to not be null'; }
  else if ((m = /^Variable "\$(\w+)" of non-null type "[^"]+" must not be null\.$/.exec(msg))) { name = m[1]; explanation = 'Expected value to not be null'; }
  else return base;
  const def = (op.variableDefinitions || []).find((d) => d.variable.name.value === name);
  const type = def ? print(def.type) : '?';
  const path = [];
  if (at) {
    const rest = at.replace(new RegExp(`^${name}`), '');
    const re = /\.(\w+)|\[(\d+)\]/g; let x;
    while ((x = re.exec(rest))) path.push(x[1] !== undefined ? x[1] : Number(x[2]));
  }
  explanation = explanation.replace(/\.$/, '');
  const nd = /^Field "(\w+)" is not defined by type "(\w+)"/.exec(explanation);
  if (nd) { path.push(nd[1]); explanation = `Field is not defined on ${nd[2]}`; }
  const out = {
    message: `Variable $${name} of type ${type} was provided invalid value` + (path.length ? ` for ${path.join('.')} (${explanation})` : ''),
    locations: base.locations,
    extensions: { code: 'INVALID_VARIABLE', value: rawVariables[name] === undefined ? null : rawVariables[name], problems: [{ path, explanation }] },
  };
  return out;
}

function defaultFor(type) {
  if (!isNonNullType(type)) return null;
  const t = getNullableType(type);
  if (isListType(t)) return [];
  if (isEnumType(t)) return t.getValues()[0].value;
  if (isScalarType(t)) {
    switch (t.name) {
      case 'Boolean': return false;
      case 'Int': case 'Float': return 0;
      case 'UnsignedInt64': return '0';
      case 'Money': case 'Decimal': return '0.00';
      case 'DateTime': return iso(Date.now());
      case 'JSON': return {};
      default: return '';
    }
  }
  return {}; // non-null object/interface: resolve its fields with defaults
}

function fieldResolver(source, args, ctx, info) {
  if (source == null) return null;
  const v = source[info.fieldName];
  if (typeof v === 'function') return v.call(source, args, ctx, info);
  if (v !== undefined) return v;
  return defaultFor(info.returnType);
}

function typeResolver(value, ctx, info, abstractType) {
  if (value && value.__typename) return value.__typename;
  const possible = info.schema.getPossibleTypes(abstractType);
  return possible.length ? possible[0].name : undefined;
}

function checkArraySizes(v, path) {
  if (Array.isArray(v)) {
    if (v.length > MAX_INPUT_ARRAY) {
      throw gqlError(`The input array size of ${v.length} is greater than the maximum allowed of ${MAX_INPUT_ARRAY}.`, 'MAX_INPUT_SIZE_EXCEEDED', { problems: [{ path }] });
    }
    v.forEach((x, i) => checkArraySizes(x, path.concat(i)));
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) checkArraySizes(v[k], path.concat(k));
  }
}

function idempotencyKey(schema, info) {
  const node = info.fieldNodes[0];
  const d = getDirectiveValues(schema.getDirective('idempotent'), node, info.variableValues);
  return d ? d.key : null;
}

// raw (uncoerced) argument value, keeping absent vs null distinction
function rawArg(info, ctx, name) {
  const a = (info.fieldNodes[0].arguments || []).find((x) => x.name.value === name);
  if (!a) return undefined;
  if (a.value.kind === Kind.VARIABLE) return ctx.rawVariables[a.value.name.value];
  return valueFromASTUntyped(a.value, ctx.rawVariables);
}

function mismatchResult(name) {
  const msg = 'The same idempotency key was used with different parameters.';
  const e = userError(['idempotencyKey'], msg, 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
  switch (name) {
    case 'inventorySetQuantities': case 'inventoryAdjustQuantities': return { inventoryAdjustmentGroup: null, userErrors: [e] };
    case 'locationActivate': return { location: null, locationActivateUserErrors: [e] };
    case 'locationDeactivate': return { location: null, locationDeactivateUserErrors: [e] };
    default: throw gqlError(msg, 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
  }
}

class Executor {
  constructor(sim) {
    this.sim = sim;
    this.schema = sim.schema;
    this.docCache = new Map();
    this.queryRoot = {};
    this.mutationRoot = {};
    for (const [name, fn] of Object.entries(sim.resolvers.Query)) {
      this.queryRoot[name] = (args, ctx, info) => { checkArraySizes(args, [name]); return fn(args, ctx, info); };
    }
    for (const [name, fn] of Object.entries(sim.resolvers.Mutation)) {
      this.mutationRoot[name] = (args, ctx, info) => this.runMutation(name, fn, args, ctx, info);
    }
    // mutations the simulator does not model fail loudly instead of returning a silent null payload
    for (const name of Object.keys(this.schema.getMutationType().getFields())) {
      if (!this.mutationRoot[name]) {
        this.mutationRoot[name] = () => { throw gqlError(`${name} is not implemented by the Shopify simulator.`, 'NOT_IMPLEMENTED'); };
      }
    }
  }

  runMutation(name, fn, args, ctx, info) {
    checkArraySizes(args, [name]);
    const key = IDEMPOTENT_REQUIRED.has(name) ? idempotencyKey(this.schema, info) : null;
    if (key != null) {
      if (key === '') throw gqlError('The idempotency key must not be blank.', 'BAD_REQUEST');
      const store = this.sim.store;
      const h = hash({ name, args });
      const prev = store.idempotency.get(key);
      if (prev) {
        if (prev.hash === h) { this.sim.counters.idempotentReplays++; return prev.result; }
        return mismatchResult(name);
      }
      const result = fn(args, ctx, info);
      store.idempotency.set(key, { hash: h, name, result });
      return result;
    }
    return fn(args, ctx, info);
  }

  // Returns { status, body, rootFields, opType, httpHeaders }
  run(body, opts) {
    opts = opts || {};
    const sim = this.sim;
    const charge = opts.charge !== false;
    const ext = (req, act) => (charge ? { cost: { requestedQueryCost: req, actualQueryCost: act, throttleStatus: sim.bucket.status() } } : undefined);
    const reply = (payload, extra) => Object.assign({ status: 200, body: payload, rootFields: [], opType: null }, extra || {});
    const fail = (errors, extra) => { sim.counters.validationFailures++; return reply({ errors, extensions: ext(0, 0) }, extra); };

    if (!body || typeof body.query !== 'string' || body.query.trim() === '') {
      return { status: 400, body: { errors: { query: 'Required parameter missing or invalid' } }, rootFields: [] };
    }
    // parse + validate results are cached per document text (the schema never changes)
    let cached = this.docCache.get(body.query);
    if (!cached) {
      try { cached = { doc: parse(body.query) }; } catch (e) { cached = { parseError: e }; }
      if (cached.doc) cached.vErrors = validate(this.schema, cached.doc, RULES);
      if (this.docCache.size >= 1000) this.docCache.delete(this.docCache.keys().next().value);
      this.docCache.set(body.query, cached);
    }
    if (cached.parseError) return fail([fmtErr(cached.parseError)]);
    const doc = cached.doc;
    const op = getOperationAST(doc, body.operationName || undefined);
    const rootFields = [];
    if (op) {
      const collect = (ss) => {
        for (const s of ss.selections) {
          if (s.kind === Kind.FIELD) rootFields.push(s.name.value);
          else if (s.kind === Kind.INLINE_FRAGMENT) collect(s.selectionSet);
        }
      };
      collect(op.selectionSet);
    }
    const meta = { rootFields, opType: op ? op.operation : null, operationName: body.operationName || (op && op.name ? op.name.value : null) };
    const vErrors = cached.vErrors;
    if (vErrors.length) {
      return fail(vErrors.map((e) => {
        const out = fmtErr(e, validationCode(e.message));
        const m = /^Cannot query field "(\w+)" on type "(\w+)"/.exec(e.message);
        if (m) Object.assign(out.extensions, { typeName: m[2], fieldName: m[1] });
        return out;
      }), meta);
    }
    if (!op) {
      return fail([{ message: body.operationName ? `No operation named "${body.operationName}"` : 'An operation name is required', extensions: { code: 'BAD_REQUEST' } }], meta);
    }
    if (op.operation === 'subscription') return fail([{ message: 'Subscriptions are not supported', extensions: { code: 'BAD_REQUEST' } }], meta);
    const rawVariables = body.variables == null ? {} : body.variables;
    if (typeof rawVariables !== 'object' || Array.isArray(rawVariables)) {
      return fail([{ message: 'Variables must be an object', extensions: { code: 'INVALID_VARIABLE' } }], meta);
    }
    const coerced = getVariableValues(this.schema, op.variableDefinitions || [], rawVariables, { maxErrors: 50 });
    if (coerced.errors) return fail(coerced.errors.map((e) => shopifyVariableError(e, op, rawVariables)), meta);
    const variables = coerced.coerced;

    // runtime-only rule: @idempotent(key:) is mandatory on some mutations
    if (op.operation === 'mutation') {
      const errs = [];
      for (const s of op.selectionSet.selections) {
        if (s.kind !== Kind.FIELD || !IDEMPOTENT_REQUIRED.has(s.name.value)) continue;
        const d = getDirectiveValues(this.schema.getDirective('idempotent'), s, variables);
        if (!d || d.key == null) {
          errs.push({ message: `The @idempotent directive is required for this mutation.`, locations: [{ line: s.loc.startToken.line, column: s.loc.startToken.column }],
            path: [s.alias ? s.alias.value : s.name.value], extensions: { code: 'BAD_REQUEST' } });
        }
      }
      if (errs.length) return fail(errs, meta);
    }

    let requested = 0;
    if (charge) {
      try { requested = requestedCost(this.schema, doc, op, variables); } catch (e) { requested = op.operation === 'mutation' ? 10 : 1; }
      if (requested > MAX_COST) {
        sim.counters.maxCostExceeded++;
        return reply({ errors: [{ message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n`,
          extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_COST, documentation: 'https://shopify.dev/api/usage/limits#rate-limits' } }],
        extensions: ext(requested, null) }, meta);
      }
      if (!sim.bucket.tryTake(requested)) {
        sim.counters.throttled++;
        const r = reply({ errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/limits#rate-limits' } }],
          extensions: ext(requested, null) }, meta);
        if (sim.config.throttle429) { r.status = 429; r.httpHeaders = { 'Retry-After': String(sim.bucket.retryAfterSeconds(requested)) }; }
        r.throttled = true;
        return r;
      }
    }
    const ctx = { sim, store: sim.store, views: sim.views, rawVariables, rawArg: (info, name) => rawArg(info, ctx, name), bulk: !!opts.bulk };
    const result = execute({
      schema: this.schema, document: doc, rootValue: op.operation === 'mutation' ? this.mutationRoot : this.queryRoot,
      contextValue: ctx, variableValues: rawVariables, operationName: body.operationName || undefined,
      fieldResolver, typeResolver,
    });
    if (result && typeof result.then === 'function') throw new Error('async resolvers are not supported');
    const out = {};
    if (result.errors && result.errors.length) out.errors = result.errors.map((e) => fmtErr(e, 'INTERNAL_SERVER_ERROR'));
    out.data = result.data === undefined ? null : result.data;
    let actual = 0;
    if (charge) {
      try { actual = Math.min(requested, actualCost(this.schema, doc, op, variables, result.data)); } catch (e) { actual = requested; }
      sim.bucket.refund(requested - actual);
      sim.counters.costSpent += actual;
      out.extensions = ext(requested, actual);
    }
    const errs = out.errors; delete out.errors;
    const payload = errs ? Object.assign({ errors: errs }, out) : out;
    return reply(payload, meta);
  }
}

module.exports = { Executor, IDEMPOTENT_REQUIRED, rawArg };
