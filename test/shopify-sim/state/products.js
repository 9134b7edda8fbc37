'use strict';
// productSet (upsert by id / handle / customId, list fields replace), productDelete,
// productVariantsBulkUpdate and product/variant queries.
const { userError, slugify, toCents, parseGid, gqlError } = require('../util');
const { filterByQuery, parseQuery, strMatch, timeMatch, numMatch } = require('./search');
const { APP_NS } = require('./metafields');

const DEFAULT_OPTION = 'Title';
const DEFAULT_VALUE = 'Default Title';

function productResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;
  const M = () => sim.metafields;

  function findByCustomId(map, cid) {
    const ns = cid.namespace == null ? APP_NS : cid.namespace;
    return M().ownerWith('Product', ns, cid.key, cid.value);
  }
  function findByHandle(h) {
    for (const p of S().products.values()) if (p.handle === h) return p;
    return null;
  }
  function uniqueHandle(base, self) {
    let h = base; let i = 0;
    while (true) { const p = findByHandle(h); if (!p || p === self) return h; i++; h = `${base}-${i}`; }
  }

  function setInventoryQuantity(item, locId, name, q) {
    const st = S();
    const l = st.activateLevel(item.id, locId);
    if (name === 'available') l.on_hand = q + l.committed; else l.on_hand = q;
    l.updatedAt = st.nowMs();
  }

  function productSet(args, ctx) {
    const st = S();
    const ident = args.identifier || null;
    const input = args.input;
    const errs = [];
    const out = (errors) => ({ product: null, productSetOperation: null, userErrors: errors });
    if (ident && input.id != null) return out([userError(['input', 'id'], 'The id field is not allowed if identifier is provided.', 'ID_NOT_ALLOWED')]);

    // ---- locate
    let product = null;
    let customId = null;
    if (ident) {
      if (ident.id != null) {
        product = st.get('Product', ident.id);
        if (!product) return out([userError(['identifier', 'id'], 'Product does not exist', 'NOT_FOUND')]);
      } else if (ident.handle != null) {
        if (input.handle != null && input.handle !== ident.handle) return out([userError(['input', 'handle'], 'The input field corresponding to the identifier must match the identifier value.', 'INPUT_MISMATCH')]);
        product = findByHandle(ident.handle);
      } else if (ident.customId != null) {
        customId = Object.assign({}, ident.customId, { namespace: ident.customId.namespace == null ? APP_NS : ident.customId.namespace });
        if (input.metafields) {
          const mf = input.metafields.find((m) => (m.namespace == null ? APP_NS : m.namespace) === customId.namespace && m.key === customId.key);
          if (!mf || mf.value !== customId.value) return out([userError(['input', 'metafields'], 'The input metafields must contain the custom id value.', 'METAFIELD_MISMATCH')]);
        }
        product = findByCustomId(st.products, customId);
      }
    } else if (input.id != null) {
      product = st.get('Product', input.id);
      if (!product) return out([userError(['input', 'id'], 'Product does not exist', 'NOT_FOUND')]);
    }
    const creating = !product;

    // ---- options / variants must travel together
    const hasOpts = input.productOptions != null; const hasVars = input.variants != null;
    if (hasVars && !hasOpts) errs.push(userError(['input', 'productOptions'], 'Must specify product options when updating variants.', 'PRODUCT_OPTIONS_INPUT_MISSING'));
    if (hasOpts && !hasVars) errs.push(userError(['input', 'variants'], 'Must specify variants when updating options.', 'VARIANTS_INPUT_MISSING'));
    if (creating && (input.title == null || String(input.title).trim() === '')) errs.push(userError(['input', 'title'], "Title can't be blank", 'MISSING_FIELD_REQUIRED'));
    if (errs.length) return out(errs);

    // ---- options
    let options = null; // [{name, values, position, id?}]
    if (hasOpts) {
      if (input.productOptions.length > 3) return out([userError(['input', 'productOptions'], 'Can only specify a maximum of 3 options', 'OPTIONS_OVER_LIMIT')]);
      if (input.productOptions.length === 0 && input.variants.length > 1) return out([userError(['input', 'productOptions'], 'Must specify product options', 'OPTION_VALUES_MISSING')]);
      const names = new Set();
      options = [];
      for (const [i, o] of input.productOptions.entries()) {
        let name = o.name;
        if (name == null && o.id && product) { const ex = product.options.find((x) => x.id === o.id); name = ex && ex.name; }
        if (name == null) return out([userError(['input', 'productOptions', i, 'name'], 'Option name is required', 'INVALID_INPUT')]);
        if (names.has(name)) return out([userError(['input', 'productOptions', i, 'name'], `Duplicated option name '${name}'`, 'DUPLICATED_OPTION_NAME')]);
        names.add(name);
        const vals = [];
        for (const [j, v] of (o.values || []).entries()) {
          if (v.name == null) return out([userError(['input', 'productOptions', i, 'values', j, 'name'], 'Option value name is required', 'INVALID_INPUT')]);
          if (vals.includes(v.name)) return out([userError(['input', 'productOptions', i, 'values', j], `Duplicated option value '${v.name}'`, 'DUPLICATED_OPTION_VALUE')]);
          vals.push(v.name);
        }
        if (!vals.length) return out([userError(['input', 'productOptions', i, 'values'], 'Option values are required', 'OPTION_VALUES_MISSING')]);
        options.push({ name, values: vals, position: o.position != null ? o.position : i + 1 });
      }
      options.sort((a, b) => a.position - b.position);
    } else if (creating) {
      options = [{ name: DEFAULT_OPTION, values: [DEFAULT_VALUE], position: 1 }];
    }
    if (options && options.length === 0) options = [{ name: DEFAULT_OPTION, values: [DEFAULT_VALUE], position: 1 }];

    // ---- variants
    let variantPlans = null; // [{input, existing, selectedOptions}]
    const existingVariants = product ? st.productVariants(product) : [];
    let totalQty = 0;
    const optionIdName = (id) => { if (!product) return null; const o = product.options.find((x) => x.id === id); return o ? o.name : null; };
    if (hasVars || creating) {
      const vinputs = hasVars ? input.variants : [{ optionValues: [{ optionName: DEFAULT_OPTION, name: DEFAULT_VALUE }] }];
      if (vinputs.length > 2048) return out([userError(['input', 'variants'], 'Exceeded the maximum of 2048 variants', 'VARIANTS_OVER_LIMIT')]);
      variantPlans = [];
      const combos = new Set();
      const used = new Set();
      for (const [i, vi] of vinputs.entries()) {
        const sel = [];
        for (const [j, ov] of vi.optionValues.entries()) {
          const oname = ov.optionName != null ? ov.optionName : optionIdName(ov.optionId);
          const opt = options.find((o) => o.name === oname);
          if (!opt) return out([userError(['input', 'variants', i, 'optionValues', j], `Option '${oname}' does not exist`, 'OPTION_DOES_NOT_EXIST')]);
          let vname = ov.name;
          if (vname == null && ov.id && product) {
            for (const o of product.options) { const k = o.valueIds.indexOf(ov.id); if (k >= 0) vname = o.values[k]; }
          }
          if (vname == null || !opt.values.includes(vname)) return out([userError(['input', 'variants', i, 'optionValues', j], `Option value '${vname}' does not exist for option '${oname}'`, 'OPTION_VALUE_DOES_NOT_EXIST')]);
          sel.push({ name: oname, value: vname });
        }
        if (sel.length !== options.length || new Set(sel.map((s) => s.name)).size !== sel.length) {
          return out([userError(['input', 'variants', i, 'optionValues'], 'Each variant must have exactly one value for every product option', 'OPTION_VALUES_MISSING')]);
        }
        sel.sort((a, b) => options.findIndex((o) => o.name === a.name) - options.findIndex((o) => o.name === b.name));
        const combo = JSON.stringify(sel);
        if (combos.has(combo)) return out([userError(['input', 'variants', i], `The variant '${sel.map((s) => s.value).join(' / ')}' already exists.`, 'INVALID_VARIANT')]);
        combos.add(combo);
        let existing = null;
        if (vi.id != null) {
          existing = existingVariants.find((v) => v.id === vi.id) || null;
          if (!existing) return out([userError(['input', 'variants', i, 'id'], 'Product variant does not exist', 'PRODUCT_VARIANT_DOES_NOT_EXIST')]);
        } else {
          existing = existingVariants.find((v) => !used.has(v) && JSON.stringify(v.selectedOptions) === combo) || null;
        }
        if (existing) { if (used.has(existing)) return out([userError(['input', 'variants', i, 'id'], 'Variant specified twice', 'INVALID_VARIANT')]); used.add(existing); }
        for (const [k, iq] of (vi.inventoryQuantities || []).entries()) {
          const f = ['input', 'variants', String(i), 'inventoryQuantities', String(k)];
          const loc = st.get('Location', iq.locationId);
          if (!loc || !loc.isActive) errs.push(userError(f.concat('locationId'), 'Location does not exist or is not active', 'INVALID_INPUT'));
          else if (iq.name !== 'available' && iq.name !== 'on_hand') errs.push(userError(f.concat('name'), `Invalid quantity name '${iq.name}' (available or on_hand)`, 'INVALID_INPUT'));
          else if (existing && !st.getLevel(existing.inventoryItemId, iq.locationId)) errs.push(userError(f.concat('locationId'), 'Inventory quantities can only be updated at locations where the variant is already stocked', 'INVALID_INPUT'));
          totalQty += Math.abs(iq.quantity);
        }
        for (const k of ['price', 'compareAtPrice']) {
          if (vi[k] != null && Number.isNaN(toCents(vi[k]))) errs.push(userError(['input', 'variants', String(i), k], `${k} is invalid`, 'INVALID_VARIANT'));
        }
        if (vi.metafields) errs.push(...M().checkInputs(existing, vi.metafields, ['input', 'variants', String(i), 'metafields'], (c) => (c === 'TAKEN' ? 'DUPLICATED_METAFIELD_VALUE' : 'INVALID_METAFIELD'), 'ProductVariant'));
        variantPlans.push({ input: vi, existing, selectedOptions: sel });
      }
      if (totalQty > 50000) errs.push(userError(['input', 'variants'], 'The total number of inventory quantities across all variants cannot exceed 50000', 'INVENTORY_QUANTITIES_LIMIT_EXCEEDED'));
    }
    if (input.metafields) errs.push(...M().checkInputs(product, input.metafields, ['input', 'metafields'], (c) => (c === 'TAKEN' ? 'DUPLICATED_METAFIELD_VALUE' : 'INVALID_METAFIELD'), 'Product'));
    let handle = null;
    if (input.handle != null) {
      const other = findByHandle(input.handle);
      if (other && other !== product) errs.push(userError(['input', 'handle'], `Handle '${input.handle}' already in use. Please provide a new handle.`, 'HANDLE_NOT_UNIQUE'));
      handle = input.handle;
    }
    if (errs.length) return out(errs);

    // ---- apply
    const ts = st.nowMs();
    if (creating) {
      product = { id: st.newId('Product'), title: input.title, handle: null, descriptionHtml: '', vendor: '', productType: '', status: 'ACTIVE', tags: [],
        options: [], variantIds: [], metafields: [], createdAt: ts, updatedAt: ts };
      st.products.set(parseGid(product.id).num, product);
      product.handle = handle || uniqueHandle(ident && ident.handle != null ? ident.handle : slugify(input.title), product);
    } else if (handle) product.handle = handle;
    for (const k of ['title', 'descriptionHtml', 'vendor', 'productType', 'status', 'tags', 'giftCard', 'templateSuffix', 'requiresSellingPlan']) {
      if (input[k] !== undefined && input[k] !== null) product[k] = input[k];
    }
    product.updatedAt = ts;
    if (input.metafields) M().replace(product, input.metafields);
    if (creating && customId && !product.metafields.some((m) => m.namespace === customId.namespace && m.key === customId.key)) {
      M().upsert(product, { namespace: customId.namespace, key: customId.key, type: 'id', value: customId.value });
    }
    if (options) {
      product.options = options.map((o) => {
        const old = product.options.find((x) => x.name === o.name);
        return { id: old ? old.id : st.newId('ProductOption'), name: o.name, position: o.position, values: o.values,
          valueIds: o.values.map((v) => { if (old) { const k = old.values.indexOf(v); if (k >= 0) return old.valueIds[k]; } return st.newId('ProductOptionValue'); }) };
      });
    }
    if (variantPlans) {
      const keep = new Set();
      const ids = [];
      variantPlans.forEach((plan, idx) => {
        const vi = plan.input;
        let v = plan.existing;
        if (!v) {
          const item = { id: st.newId('InventoryItem'), variantId: null, tracked: true, requiresShipping: true, costCents: null, createdAt: ts, updatedAt: ts };
          v = { id: st.newId('ProductVariant'), productId: product.id, sku: null, barcode: null, priceCents: 0, compareAtCents: null, inventoryPolicy: 'DENY',
            taxable: true, taxCode: null, position: idx + 1, selectedOptions: [], inventoryItemId: item.id, metafields: [], createdAt: ts, updatedAt: ts };
          item.variantId = v.id;
          st.inventoryItems.set(parseGid(item.id).num, item);
          st.variants.set(parseGid(v.id).num, v);
          // new variants are stocked (quantity 0) at the shop's primary location, as Shopify does
          const primary = st.activeLocations().find((l) => l.fulfillsOnlineOrders) || st.activeLocations()[0];
          if (primary) st.activateLevel(item.id, primary.id);
        }
        v.selectedOptions = plan.selectedOptions;
        v.position = vi.position != null ? vi.position : idx + 1;
        if (vi.sku !== undefined) v.sku = vi.sku;
        if (vi.barcode !== undefined) v.barcode = vi.barcode;
        if (vi.price != null) v.priceCents = toCents(vi.price);
        if (vi.compareAtPrice !== undefined) v.compareAtCents = vi.compareAtPrice == null ? null : toCents(vi.compareAtPrice);
        if (vi.inventoryPolicy != null) v.inventoryPolicy = vi.inventoryPolicy;
        if (vi.taxable != null) v.taxable = vi.taxable;
        if (vi.taxCode !== undefined) v.taxCode = vi.taxCode;
        const item = st.get('InventoryItem', v.inventoryItemId);
        if (vi.inventoryItem) {
          const ii = vi.inventoryItem;
          if (ii.tracked != null) item.tracked = ii.tracked;
          if (ii.requiresShipping != null) item.requiresShipping = ii.requiresShipping;
          if (ii.cost !== undefined) item.costCents = ii.cost == null ? null : toCents(ii.cost);
          if (ii.sku !== undefined && vi.sku === undefined) v.sku = ii.sku;
          if (ii.harmonizedSystemCode !== undefined) item.harmonizedSystemCode = ii.harmonizedSystemCode;
          if (ii.countryCodeOfOrigin !== undefined) item.countryCodeOfOrigin = ii.countryCodeOfOrigin;
          item.updatedAt = ts;
        }
        if (vi.metafields) M().replace(v, vi.metafields);
        for (const iq of vi.inventoryQuantities || []) setInventoryQuantity(item, iq.locationId, iq.name, iq.quantity);
        v.updatedAt = ts;
        keep.add(v.id); ids.push(v.id);
      });
      for (const old of existingVariants) if (!keep.has(old.id)) st.deleteVariant(old);
      product.variantIds = ids;
    }
    ctx.sim.counters.mutationsApplied++;
    const view = V().productView(product);
    if (args.synchronous === false && !ctx.bulk) {
      const op = { id: st.newId('ProductSetOperation'), productId: product.id, status: 'COMPLETE' };
      st.productOperations.set(parseGid(op.id).num, op);
      return { product: null, productSetOperation: opView(op), userErrors: [] };
    }
    return { product: view, productSetOperation: null, userErrors: [] };
  }

  function opView(op) {
    return { __typename: 'ProductSetOperation', id: op.id, status: op.status, userErrors: [], product: () => V().productView(S().get('Product', op.productId)) };
  }

  function productDelete(args, ctx) {
    const p = S().get('Product', args.input.id);
    if (!p) return { deletedProductId: null, productDeleteOperation: null, userErrors: [userError(['id'], 'Product does not exist')] };
    S().deleteProduct(p);
    ctx.sim.counters.mutationsApplied++;
    return { deletedProductId: p.id, productDeleteOperation: null, userErrors: [] };
  }

  function productVariantsBulkUpdate(args, ctx) {
    const st = S();
    const p = st.get('Product', args.productId);
    const out = (e) => ({ product: null, productVariants: null, userErrors: e });
    if (!p) return out([userError(['productId'], 'Product does not exist', 'PRODUCT_DOES_NOT_EXIST')]);
    const errs = [];
    const plans = args.variants.map((vi, i) => {
      if (vi.id == null) { errs.push(userError(['variants', String(i), 'id'], 'Product variant is missing ID attribute', 'PRODUCT_VARIANT_ID_MISSING')); return null; }
      const v = st.get('ProductVariant', vi.id);
      if (!v) { errs.push(userError(['variants', String(i), 'id'], 'Product variant does not exist', 'PRODUCT_VARIANT_DOES_NOT_EXIST')); return null; }
      if (v.productId !== p.id) { errs.push(userError(['variants', String(i), 'id'], 'Product variant does not belong to this product', 'MUST_BE_FOR_THIS_PRODUCT')); return null; }
      if (vi.price != null && toCents(vi.price) < 0) errs.push(userError(['variants', String(i), 'price'], 'Price must be greater than or equal to 0', 'GREATER_THAN_OR_EQUAL_TO'));
      if (vi.inventoryQuantities) errs.push(userError(['variants', String(i), 'inventoryQuantities'], 'Inventory quantities can only be provided during create.', 'NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE'));
      return { vi, v };
    });
    if (errs.length && !args.allowPartialUpdates) return out(errs);
    const ts = st.nowMs();
    const updated = [];
    for (const plan of plans) {
      if (!plan) continue;
      const { vi, v } = plan;
      if (vi.price != null) v.priceCents = toCents(vi.price);
      if (vi.compareAtPrice !== undefined) v.compareAtCents = vi.compareAtPrice == null ? null : toCents(vi.compareAtPrice);
      if (vi.barcode !== undefined) v.barcode = vi.barcode;
      if (vi.inventoryPolicy != null) v.inventoryPolicy = vi.inventoryPolicy;
      if (vi.taxable != null) v.taxable = vi.taxable;
      if (vi.taxCode !== undefined) v.taxCode = vi.taxCode;
      if (vi.inventoryItem) {
        const item = st.get('InventoryItem', v.inventoryItemId);
        const ii = vi.inventoryItem;
        if (ii.sku !== undefined) v.sku = ii.sku;
        if (ii.tracked != null) item.tracked = ii.tracked;
        if (ii.cost !== undefined) item.costCents = ii.cost == null ? null : toCents(ii.cost);
        if (ii.requiresShipping != null) item.requiresShipping = ii.requiresShipping;
      }
      if (vi.metafields) for (const mf of vi.metafields) M().upsert(v, mf);
      v.updatedAt = ts;
      updated.push(V().variantView(v));
    }
    p.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    return { product: V().productView(p), productVariants: updated, userErrors: errs };
  }

  const productFilters = {
    sku: (p, t) => S().productVariants(p).some((v) => strMatch(v.sku, t)),
    handle: (p, t) => strMatch(p.handle, t),
    status: (p, t) => t.value.split(',').some((s) => s.toUpperCase() === p.status),
    title: (p, t) => strMatch(p.title, t),
    vendor: (p, t) => strMatch(p.vendor, t),
    product_type: (p, t) => strMatch(p.productType, t),
    barcode: (p, t) => S().productVariants(p).some((v) => strMatch(v.barcode, t)),
    updated_at: (p, t) => timeMatch(p.updatedAt, t),
    created_at: (p, t) => timeMatch(p.createdAt, t),
    id: (p, t) => numMatch(parseGid(p.id).num, t),
    tag: (p, t) => (p.tags || []).some((x) => strMatch(x, t)),
  };
  const sortProducts = (list, key) => {
    const k = { TITLE: (p) => [String(p.title).toLowerCase(), parseGid(p.id).num], UPDATED_AT: (p) => [p.updatedAt, parseGid(p.id).num], CREATED_AT: (p) => [p.createdAt, parseGid(p.id).num] }[key] || ((p) => [parseGid(p.id).num]);
    return { list: list.slice().sort((a, b) => { const x = k(a); const y = k(b); return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]; }), key: k };
  };

  return {
    productSet,
    Query: {
      product: (a) => V().productView(S().get('Product', a.id)),
      productByIdentifier: (a) => {
        const i = a.identifier;
        if (i.id != null) return V().productView(S().get('Product', i.id));
        if (i.handle != null) return V().productView(findByHandle(i.handle));
        if (i.customId != null) return V().productView(findByCustomId(S().products, i.customId));
        return null;
      },
      products: (a) => {
        const filtered = filterByQuery([...S().products.values()], a.query, productFilters, (p, txt) => String(p.title).toLowerCase().includes(txt.toLowerCase()));
        const { list, key } = sortProducts(filtered, a.sortKey);
        const views = list.map((p) => Object.assign(V().productView(p), { __raw: p }));
        return V().conn(views, a, (x) => key(x.__raw));
      },
      productVariant: (a) => V().variantView(S().get('ProductVariant', a.id)),
      productVariants: (a) => {
        // "sku:A OR sku:B ...", the adoption lookup of a first sync: one pass
        // with a set (the general filter re-tests every term on every variant,
        // seconds per request with 100k variants); same result
        const groups = a.query ? parseQuery(a.query) : null;
        if (groups && groups.length === 1 && groups[0].length > 0 &&
            groups[0].every((t) => t.key === 'sku' && !t.neg && (t.op == null || t.op === ':') && !t.value.endsWith('*'))) {
          const want = new Set(groups[0].map((t) => t.value.toLowerCase()));
          const hits = [...S().variants.values()].filter((v) => v.sku != null && want.has(String(v.sku).toLowerCase()));
          return V().conn(hits.map((v) => V().variantView(v)), a);
        }
        const list = filterByQuery([...S().variants.values()], a.query, {
          sku: (v, t) => strMatch(v.sku, t), barcode: (v, t) => strMatch(v.barcode, t), product_id: (v, t) => numMatch(parseGid(v.productId).num, t),
          id: (v, t) => numMatch(parseGid(v.id).num, t), updated_at: (v, t) => timeMatch(v.updatedAt, t),
        }, (v, txt) => strMatch(v.sku, { value: txt }));
        return V().conn(list.map((v) => V().variantView(v)), a);
      },
      productOperation: (a) => { const op = S().get('ProductSetOperation', a.id); return op ? opView(op) : null; },
    },
    Mutation: { productSet, productDelete, productVariantsBulkUpdate },
  };
}

module.exports = { productResolvers };
