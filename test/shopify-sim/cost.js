'use strict';
// Shopify's calculated query cost (see README "Cost model").
//   scalar / enum            0
//   object                   1 + selection
//   connection (first/last)  2 + n * (cost of one node incl. its selection); pageInfo free
//   list of objects          (first arg or 1) * (1 + selection)  [actual: sum over returned items]
//   mutation root field      10 + dynamic cost (productSet) + cost of the payload's selection
// requested cost is computed before execution from the document; actual cost walks the result data
// (connections charged for the nodes actually returned). Both rounded up to an integer.
const { getNamedType, getNullableType, isListType, isLeafType, isAbstractType, Kind, isObjectType } = require('graphql');
const { getArgumentValues } = require('graphql/execution/values');

function isConnectionType(t) {
  return isObjectType(t) && /Connection$/.test(t.name) && t.getFields().pageInfo && (t.getFields().edges || t.getFields().nodes);
}

function productSetDynamic(args) {
  const input = (args && args.input) || {};
  const variants = input.variants || [];
  const pm = (input.metafields || []).length;
  const files = (input.files || []).length;
  let vm = 0; let vf = 0;
  for (const v of variants) { vm += (v.metafields || []).length; if (v.file) vf += 1; }
  return 0.2 * variants.length + 0.4 * pm + 0.4 * vm + 1.9 * files + 0.6 * vf;
}
const DYNAMIC = { productSet: productSetDynamic };

class CostCalculator {
  constructor(schema, fragments, variables) {
    this.schema = schema; this.fragments = fragments; this.variables = variables || {};
  }

  // cost of a selection set on parentType; data = result object (actual mode) or undefined (requested)
  sel(parentType, selectionSet, data, actual) {
    // fields and same-type fragments add up; fragments narrowing an abstract type to different
    // concrete types are alternatives: the most expensive one counts (Shopify: max over possible types)
    let total = 0;
    const alt = new Map();
    if (!selectionSet) return 0;
    const frag = (t, ss) => {
      t = t || parentType;
      if (actual && data && data.__typename && !isAbstractType(t) && t.name !== data.__typename) return;
      const c = this.sel(t, ss, data, actual);
      if (isAbstractType(parentType) && t !== parentType && !isAbstractType(t)) alt.set(t.name, (alt.get(t.name) || 0) + c);
      else total += c;
    };
    for (const s of selectionSet.selections) {
      if (s.kind === Kind.FIELD) total += this.field(parentType, s, data, actual);
      else if (s.kind === Kind.INLINE_FRAGMENT) frag(s.typeCondition ? this.schema.getType(s.typeCondition.name.value) : parentType, s.selectionSet);
      else if (s.kind === Kind.FRAGMENT_SPREAD) {
        const f = this.fragments[s.name.value];
        if (f) frag(this.schema.getType(f.typeCondition.name.value), f.selectionSet);
      }
    }
    return total + (alt.size ? Math.max(...alt.values()) : 0);
  }

  args(def, node) {
    try { return getArgumentValues(def, node, this.variables); } catch (e) { return {}; }
  }

  field(parentType, node, data, actual) {
    const name = node.name.value;
    if (name.startsWith('__')) return 0;
    const fields = parentType.getFields ? parentType.getFields() : {};
    const def = fields[name];
    if (!def) return 0;
    const key = node.alias ? node.alias.value : name;
    const value = actual ? (data == null ? undefined : data[key]) : undefined;
    const nullable = getNullableType(def.type);
    const named = getNamedType(def.type);
    if (isLeafType(named)) return 0;
    const args = this.args(def, node);
    if (isConnectionType(named)) {
      const n = args.first != null ? args.first : (args.last != null ? args.last : 0);
      if (actual) {
        if (value == null) return 2;
        let c = 2;
        const nodes = value.nodes || (value.edges ? value.edges.map((e) => e && e.node) : null);
        const count = nodes ? nodes.length : 0;
        for (let i = 0; i < count; i++) c += this.nodeCost(named, node.selectionSet, value, i);
        return c;
      }
      return 2 + n * this.nodeCost(named, node.selectionSet);
    }
    if (isListType(nullable) || (nullable.ofType && isListType(getNullableType(nullable)))) {
      if (actual) {
        if (!Array.isArray(value)) return 0;
        return value.reduce((s, item) => s + 1 + this.sel(named, node.selectionSet, item, true), 0);
      }
      const mult = args.first != null ? args.first : (Array.isArray(args.ids) ? args.ids.length : 1);
      return mult * (1 + this.sel(named, node.selectionSet, undefined, false));
    }
    if (actual && value === null) return 1;
    return 1 + this.sel(named, node.selectionSet, value, actual);
  }

  // cost of one node of a connection: max over `nodes{...}` and `edges{node{...}}`
  nodeCost(connType, selectionSet, value, index) {
    const actual = value !== undefined;
    let best = 0;
    const f = connType.getFields();
    const nodeType = getNamedType(f.nodes ? f.nodes.type : f.edges.type.ofType);
    const visit = (ss) => {
      for (const s of ss.selections) {
        if (s.kind === Kind.FIELD) {
          const n = s.name.value; const key = s.alias ? s.alias.value : n;
          if (n === 'nodes') {
            const item = actual ? (value[key] || [])[index] : undefined;
            best = Math.max(best, 1 + this.sel(getNamedType(f.nodes.type), s.selectionSet, item, actual));
          } else if (n === 'edges') {
            const edgeType = getNamedType(f.edges.type);
            const edge = actual ? (value[key] || [])[index] : undefined;
            for (const es of s.selectionSet.selections) {
              if (es.kind === Kind.FIELD && es.name.value === 'node') {
                const nk = es.alias ? es.alias.value : 'node';
                best = Math.max(best, 1 + this.sel(getNamedType(edgeType.getFields().node.type), es.selectionSet, edge ? edge[nk] : undefined, actual));
              }
            }
          }
        } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
        else if (s.kind === Kind.FRAGMENT_SPREAD && this.fragments[s.name.value]) visit(this.fragments[s.name.value].selectionSet);
      }
    };
    visit(selectionSet);
    void nodeType;
    return best;
  }

  operation(op, data) {
    const actual = data !== undefined;
    const isMutation = op.operation === 'mutation';
    const root = isMutation ? this.schema.getMutationType() : this.schema.getQueryType();
    let total = 0;
    const fieldsOf = (ss, out) => {
      for (const s of ss.selections) {
        if (s.kind === Kind.FIELD) out.push(s);
        else if (s.kind === Kind.INLINE_FRAGMENT) fieldsOf(s.selectionSet, out);
        else if (s.kind === Kind.FRAGMENT_SPREAD && this.fragments[s.name.value]) fieldsOf(this.fragments[s.name.value].selectionSet, out);
      }
      return out;
    };
    for (const node of fieldsOf(op.selectionSet, [])) {
      if (!isMutation) { total += this.field(root, node, data, actual); continue; }
      const name = node.name.value;
      if (name.startsWith('__')) continue;
      const def = root.getFields()[name];
      if (!def) continue;
      const args = this.args(def, node);
      const key = node.alias ? node.alias.value : name;
      const value = actual ? (data ? data[key] : undefined) : undefined;
      total += 10 + (DYNAMIC[name] ? DYNAMIC[name](args) : 0);
      if (!actual || value != null) total += this.sel(getNamedType(def.type), node.selectionSet, value, actual);
    }
    return Math.ceil(total - 1e-9);
  }
}

function fragmentsOf(doc) {
  const f = {};
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) f[d.name.value] = d;
  return f;
}

function requestedCost(schema, doc, op, variables) {
  return new CostCalculator(schema, fragmentsOf(doc), variables).operation(op);
}
function actualCost(schema, doc, op, variables, data) {
  return new CostCalculator(schema, fragmentsOf(doc), variables).operation(op, data || null);
}

module.exports = { requestedCost, actualCost, productSetDynamic, isConnectionType };
