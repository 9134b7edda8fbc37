'use strict';
// Metafields: stored on owners as [{id, namespace, key, type, value, createdAt, updatedAt}].
const { userError, parseGid } = require('../util');

const APP_NS = '$app';
const OWNER_TYPES = { Product: 'PRODUCT', ProductVariant: 'PRODUCTVARIANT', Customer: 'CUSTOMER', Location: 'LOCATION', Order: 'ORDER' };

function validateValue(type, value) {
  if (type === 'number_integer') return /^-?\d+$/.test(value);
  if (type === 'number_decimal') return /^-?\d+(\.\d+)?$/.test(value);
  if (type === 'boolean') return value === 'true' || value === 'false';
  if (type === 'json' || type.startsWith('list.')) { try { JSON.parse(value); return true; } catch (e) { return false; } }
  return true;
}

const OWNER_MAPS = (store) => ({ Product: store.products, ProductVariant: store.variants, Customer: store.customers, Location: store.locations, Order: store.orders });

// The index of metafield values (store.mfIndex): entries are added and removed with the
// metafields; a hit is checked against the owner (still in the shop, still holding the value).
function idxKey(type, ns, key, value) { return `${type}\0${ns}\0${key}\0${value}`; }
function idxAdd(store, owner, m) {
  const k = idxKey(parseGid(owner.id).type, m.namespace, m.key, m.value);
  let set = store.mfIndex.get(k);
  if (!set) store.mfIndex.set(k, (set = new Set()));
  set.add(owner);
}
function idxDel(store, owner, m) {
  const k = idxKey(parseGid(owner.id).type, m.namespace, m.key, m.value);
  const set = store.mfIndex.get(k);
  if (set) { set.delete(owner); if (set.size === 0) store.mfIndex.delete(k); }
}
// Owners of a type holding ns.key = value (optionally of one metafield type)
function ownersWith(store, type, ns, key, value, mfType) {
  const set = store.mfIndex.get(idxKey(type, ns, key, value));
  if (!set) return [];
  const map = OWNER_MAPS(store)[type];
  // by id: an owner may be a copy made while a mutation was staged
  const out = [];
  for (const id of new Set([...set].map((o) => o.id))) {
    const o = map.get(parseGid(id).num);
    if (o && o.metafields.some((m) => m.namespace === ns && m.key === key && m.value === value && (!mfType || m.type === mfType))) out.push(o);
  }
  return out;
}

// Owners of the same type holding an `id`-typed metafield ns.key=value (unique-valued)
function idConflict(store, owner, ns, key, value, ownerType) {
  const t = owner ? parseGid(owner.id).type : ownerType;
  return ownersWith(store, t, ns, key, value, 'id').find((o) => o !== owner) || null;
}

function mkMetafields(store) {
  function find(owner, ns, key) { return owner.metafields.find((m) => m.namespace === ns && m.key === key) || null; }

  // Validate a list of MetafieldInput for an owner (existing or new); returns userErrors (codes optional)
  function checkInputs(owner, list, fieldPath, codeFor, ownerType) {
    const errs = [];
    (list || []).forEach((mf, i) => {
      const ns = mf.namespace == null ? APP_NS : mf.namespace;
      if (!mf.key) { errs.push(userError(fieldPath.concat(i, 'key'), "Key can't be blank", codeFor('BLANK'))); return; }
      if (mf.value == null) { errs.push(userError(fieldPath.concat(i, 'value'), "Value can't be blank", codeFor('BLANK'))); return; }
      const existing = owner ? find(owner, ns, mf.key) : null;
      const type = mf.type || (existing && existing.type);
      if (!type) { errs.push(userError(fieldPath.concat(i, 'type'), "Type can't be blank", codeFor('BLANK'))); return; }
      if (!validateValue(type, mf.value)) errs.push(userError(fieldPath.concat(i, 'value'), `Value is invalid for type ${type}`, codeFor('INVALID_VALUE')));
      if (type === 'id' && (owner || ownerType) && idConflict(store, owner, ns, mf.key, mf.value, ownerType)) errs.push(userError(fieldPath.concat(i, 'value'), 'Value is already assigned to another resource', codeFor('TAKEN')));
    });
    return errs;
  }

  function upsert(owner, mf) {
    const ns = mf.namespace == null ? APP_NS : mf.namespace;
    const ts = store.nowMs();
    let m = find(owner, ns, mf.key);
    if (m) {
      idxDel(store, owner, m);
      m.value = String(mf.value); if (mf.type) m.type = mf.type; m.updatedAt = ts;
      idxAdd(store, owner, m);
      return m;
    }
    m = { id: store.newId('Metafield'), namespace: ns, key: mf.key, type: mf.type, value: String(mf.value), createdAt: ts, updatedAt: ts };
    owner.metafields.push(m);
    idxAdd(store, owner, m);
    return m;
  }

  // productSet-style list replacement: entries not included are deleted
  function replace(owner, list) {
    const keep = new Set();
    for (const mf of list) { const m = upsert(owner, mf); keep.add(m); }
    for (const m of owner.metafields) if (!keep.has(m)) idxDel(store, owner, m);
    owner.metafields = owner.metafields.filter((m) => keep.has(m));
  }

  // the first owner of a type (Product, Customer, ...) holding ns.key = value
  function ownerWith(type, ns, key, value) { return ownersWith(store, type, ns, key, value)[0] || null; }

  return { find, checkInputs, upsert, replace, ownerWith, APP_NS };
}

function metafieldResolvers(sim) {
  const st = () => sim.store;
  return {
    Mutation: {
      metafieldsSet(args, ctx) {
        const store = st(); const M = sim.metafields; const V = sim.views;
        const list = args.metafields;
        if (list.length > 25) {
          return { metafields: null, userErrors: [userError(['metafields'], 'Exceeds the maximum metafields input limit of 25.', 'LESS_THAN_OR_EQUAL_TO')] };
        }
        const errs = [];
        const seen = new Set();
        list.forEach((mf, i) => {
          const owner = store.findOwner(mf.ownerId);
          if (!owner) { errs.push(userError(['metafields', i, 'ownerId'], 'Owner does not exist.', 'INVALID')); return; }
          const ns = mf.namespace == null ? APP_NS : mf.namespace;
          const k = `${mf.ownerId}|${ns}|${mf.key}`;
          if (seen.has(k)) { errs.push(userError(['metafields', i], 'Duplicate metafield in input.', 'INVALID')); return; }
          seen.add(k);
          if (mf.key.length < 2 || mf.key.length > 64) errs.push(userError(['metafields', i, 'key'], 'Key must be between 2 and 64 characters.', 'INVALID'));
          if (ns.length < 3 && ns !== APP_NS) errs.push(userError(['metafields', i, 'namespace'], 'Namespace is too short (minimum is 3 characters)', 'TOO_SHORT'));
          errs.push(...M.checkInputs(owner, [mf], ['metafields', i], (c) => c).map((e) => Object.assign(e, { field: ['metafields', String(i), e.field[e.field.length - 1]] })));
          const existing = M.find(owner, ns, mf.key);
          if (mf.compareDigest != null) {
            const digest = existing ? require('node:crypto').createHash('sha256').update(existing.value).digest('hex') : null;
            if (digest !== mf.compareDigest) errs.push(userError(['metafields', i, 'compareDigest'], 'The resource has been updated since it was loaded. Try again with an updated `compareDigest` value.', 'STALE_OBJECT'));
          }
        });
        if (errs.length) return { metafields: null, userErrors: errs.map((e) => Object.assign(e, { elementIndex: null })) };
        const out = list.map((mf) => {
          const owner = store.findOwner(mf.ownerId);
          const m = M.upsert(owner, mf);
          owner.updatedAt = store.nowMs();
          return V.metafieldView(owner, OWNER_TYPES[parseGid(owner.id).type], m);
        });
        ctx.sim.counters.mutationsApplied++;
        return { metafields: out, userErrors: [] };
      },
      // metafieldsDelete(metafields: [MetafieldIdentifierInput!]!): deletedMetafields lists, in input
      // order, the identifier of each metafield deleted, or null where there was none (owner or
      // metafield not found) -- not an error, as in Shopify
      metafieldsDelete(args, ctx) {
        const store = st(); const M = sim.metafields;
        const ts = store.nowMs();
        let changed = false;
        const deleted = args.metafields.map((mi) => {
          const owner = store.findOwner(mi.ownerId);
          const m = owner ? M.find(owner, mi.namespace, mi.key) : null;
          if (!m) return null;
          owner.metafields = owner.metafields.filter((x) => x !== m);
          idxDel(store, owner, m);
          owner.updatedAt = ts;
          changed = true;
          return { ownerId: owner.id, namespace: m.namespace, key: m.key };
        });
        if (changed) ctx.sim.counters.mutationsApplied++;
        return { deletedMetafields: deleted, userErrors: [] };
      },
    },
  };
}

module.exports = { mkMetafields, metafieldResolvers, APP_NS, OWNER_TYPES };
