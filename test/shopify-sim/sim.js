'use strict';
// The simulator core: store + resolvers + executor + bucket + faults + auth (no HTTP here).
const crypto = require('node:crypto');
const { loadSchema } = require('./schema');
const { Store } = require('./state/store');
const { makeViews, iso } = require('./state/views');
const { mkMetafields, metafieldResolvers } = require('./state/metafields');
const { productResolvers } = require('./state/products');
const { inventoryResolvers } = require('./state/inventory');
const { locationResolvers } = require('./state/locations');
const { customerResolvers } = require('./state/customers');
const { orderResolvers } = require('./state/orders');
const { bulkResolvers } = require('./state/bulk');
const { miscResolvers } = require('./state/misc');
const { Executor } = require('./executor');
const { Bucket, parsePlan } = require('./throttle');
const { Faults } = require('./faults');
const { restViews } = require('./rest');
const { Webhooks } = require('./webhooks');
const { parseGid, toCents, fmt } = require('./util');

const SCOPES = 'read_products,write_products,read_inventory,write_inventory,read_locations,write_locations,read_customers,write_customers,read_orders,write_orders,read_all_orders,read_fulfillments,write_fulfillments';

class Sim {
  constructor(opts) {
    opts = opts || {};
    this.opts = opts;
    this.schema = loadSchema();
    this.store = new Store();
    this.views = makeViews(this.store);
    this.metafields = mkMetafields(this.store);
    this.webhooks = new Webhooks(this);
    this.rest = restViews(this);
    this.port = 0;
    this.config = { throttle429: !!opts.throttle429, tokenTtl: opts.tokenTtl != null ? Number(opts.tokenTtl) : 86399 };
    this.staticToken = opts.token || 'shpat_test_token';
    this.clientId = opts.clientId || 'test-client-id';
    this.clientSecret = opts.clientSecret || 'test-client-secret';
    this.tokens = new Map();
    this.plan = parsePlan(opts.plan || 'standard');
    this.bucket = new Bucket(this.plan, () => Date.now());
    this.faults = new Faults();
    if (opts.faults) this.faults.set(Object.assign({ seed: opts.seed != null ? opts.seed : 1 }, opts.faults));
    else if (opts.seed != null) this.faults.set({ seed: opts.seed });
    this.resetCounters();
    const customers = customerResolvers(this);
    const mods = [productResolvers(this), inventoryResolvers(this), locationResolvers(this), customers, metafieldResolvers(this),
      orderResolvers(this, customers), bulkResolvers(this), miscResolvers(this)];
    const V = () => this.views;
    this.resolvers = {
      Query: {
        node: (a) => V().nodeView(a.id),
        nodes: (a) => a.ids.map((id) => V().nodeView(id)),
        shop: () => V().shopView(),
      },
      Mutation: {},
    };
    for (const m of mods) { Object.assign(this.resolvers.Query, m.Query || {}); Object.assign(this.resolvers.Mutation, m.Mutation || {}); }
    this.executor = new Executor(this);
  }

  baseUrl() { return `http://127.0.0.1:${this.port}`; }

  resetCounters() {
    this.counters = { requests: {}, requestsTotal: 0, costSpent: 0, throttled: 0, faults: { error500: 0, error503: 0, error429: 0, hang: 0, reset: 0, applyThenDrop: 0, latency: 0 },
      validationFailures: 0, mutationsApplied: 0, idempotentReplays: 0, maxCostExceeded: 0, unauthorized: 0, oauthTokensIssued: 0 };
  }

  // Clears shop state (incl. GraphQL webhook subscriptions), counters, faults (and the clock offset) and
  // refills the bucket. Keeps the plan, issued access tokens, tokenTtl, throttle429 and the /_sim/webhooks target. The body may carry any
  // /_sim/config keys, applied after the reset (e.g. {"plan":"plus"}).
  reset(body) {
    body = body || {};
    const seed = this.faults.cfg.seed;
    this.store.clockOffsetMs = 0;
    this.store.reset();
    this.faults.rand = null;
    this.webhooks.subscriptions = [];
    this.webhooks.delivered = [];
    this.resetCounters();
    this.faults.set({ seed });
    this.bucket.setPlan(this.plan);
    this.configure(body);
  }

  configure(body) {
    body = body || {};
    if (body.plan !== undefined) { this.plan = parsePlan(body.plan); this.bucket.setPlan(this.plan); }
    if (body.faults !== undefined) this.faults.set(body.faults || {});
    if (body.tokenTtl !== undefined) this.config.tokenTtl = Number(body.tokenTtl);
    if (body.throttle429 !== undefined) this.config.throttle429 = !!body.throttle429;
    if (body.clockOffsetMs !== undefined) this.store.clockOffsetMs = Number(body.clockOffsetMs) || 0;
    if (body.webhooks !== undefined) this.webhooks.configure(body.webhooks);
    if (body.currencyCode !== undefined) this.store.shop.currencyCode = body.currencyCode;
    return this.configView();
  }

  configView() {
    return { plan: { name: this.plan.name, max: this.plan.max, rate: this.plan.rate }, faults: this.faults.toJSON(), tokenTtl: this.config.tokenTtl,
      throttle429: this.config.throttle429, clockOffsetMs: this.store.clockOffsetMs, throttleStatus: this.bucket.status() };
  }

  // ---- auth
  issueToken() {
    const token = `shpat_${crypto.randomBytes(16).toString('hex')}`;
    const ttl = this.config.tokenTtl;
    this.tokens.set(token, Date.now() + ttl * 1000);
    this.counters.oauthTokensIssued++;
    return { access_token: token, scope: SCOPES, expires_in: ttl };
  }
  checkToken(t) {
    if (!t) return false;
    if (t === this.staticToken) return true;
    const exp = this.tokens.get(t);
    if (exp == null) return false;
    if (Date.now() >= exp) { this.tokens.delete(t); return false; }
    return true;
  }

  // ---- dump
  state() {
    const st = this.store;
    const mfs = (o) => o.metafields.map((m) => ({ id: m.id, namespace: m.namespace, key: m.key, type: m.type, value: m.value }));
    const V = this.views;
    return {
      products: [...st.products.values()].map((p) => {
        const o = { id: p.id, handle: p.handle, title: p.title, descriptionHtml: p.descriptionHtml, vendor: p.vendor, productType: p.productType, status: p.status, tags: p.tags,
          metafields: mfs(p), options: p.options.map((x) => ({ id: x.id, name: x.name, values: x.values.slice() })),
          variants: st.productVariants(p).map((v) => ({ id: v.id, sku: v.sku, barcode: v.barcode, price: fmt(v.priceCents), compareAtPrice: v.compareAtCents == null ? null : fmt(v.compareAtCents),
            inventoryPolicy: v.inventoryPolicy, selectedOptions: v.selectedOptions.map((s) => ({ name: s.name, value: s.value })), inventoryItemId: v.inventoryItemId, metafields: mfs(v) })),
          createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt) };
        const cid = p.metafields.find((m) => m.type === 'id');
        if (cid) o.customId = { namespace: cid.namespace, key: cid.key, value: cid.value };
        return o;
      }),
      inventoryItems: [...st.inventoryItems.values()].map((it) => { const v = st.get('ProductVariant', it.variantId); return { id: it.id, sku: v ? v.sku : null, variantId: it.variantId, tracked: it.tracked }; }),
      inventoryLevels: [...st.levels.values()].map((l) => ({ id: l.id, inventoryItemId: l.inventoryItemId, locationId: l.locationId, available: l.on_hand - l.committed, on_hand: l.on_hand, committed: l.committed })),
      locations: [...st.locations.values()].map((l) => ({ id: l.id, name: l.name, isActive: l.isActive, address: Object.assign({}, l.address), fulfillsOnlineOrders: l.fulfillsOnlineOrders, metafields: mfs(l) })),
      customers: [...st.customers.values()].map((c) => ({ id: c.id, email: c.email, phone: c.phone, firstName: c.firstName, lastName: c.lastName, note: c.note, tags: c.tags,
        addresses: c.addresses.map((a) => Object.assign({}, a)), metafields: mfs(c) })),
      orders: [...st.orders.values()].map((o) => ({ id: o.id, name: o.name, updatedAt: iso(o.updatedAt), inventoryBehaviour: o.inventoryBehaviour,
        displayFinancialStatus: V.financialStatus(o), displayFulfillmentStatus: V.fulfillmentStatus(o), customerId: o.customerId,
        totalPrice: fmt(V.orderTotals(o).total),
        lineItems: V.orderLineItems(o).map((li) => ({ id: li.id, sku: li.sku, variantId: li.variantId, quantity: li.quantity, price: fmt(li.priceCents), fulfilledQuantity: li.fulfilledQty, refundedQuantity: li.refundedQty, committed: li.claimed, locationId: li.locationId })),
        fulfillmentOrders: o.fulfillmentOrderIds.map((id) => { const fo = st.get('FulfillmentOrder', id); return { id: fo.id, status: fo.status, locationId: fo.locationId, lineItems: fo.lineItems.map((x) => Object.assign({}, x)) }; }),
        fulfillments: o.fulfillmentIds.map((id) => { const f = st.get('Fulfillment', id); return { id: f.id, name: f.name, locationId: f.locationId, lineItems: f.lineItems.map((x) => Object.assign({}, x)) }; }),
        refunds: o.refundIds.map((id) => { const r = st.get('Refund', id); return { id: r.id, totalRefunded: fmt(r.totalRefundedCents), lineItems: r.lineItems.map((x) => ({ lineItemId: x.lineItemId, quantity: x.quantity, restockType: x.restockType, restocked: x.restocked, locationId: x.locationId })) }; }),
      })),
      idempotencyKeys: st.idempotency.size,
      bulkOperations: [...st.bulkOps.values()].map((b) => ({ id: b.id, status: b.status, type: b.type, objectCount: b.objectCount, url: b.url })),
      webhooks: this.webhooks.delivered.slice(),
    };
  }

  // ---- drift injection for reconciliation tests
  tamper(body) {
    const st = this.store;
    const findVariant = () => {
      if (body.variantId) return st.get('ProductVariant', body.variantId);
      for (const v of st.variants.values()) if (v.sku === body.sku) return v;
      return null;
    };
    const ts = st.nowMs();
    switch (body.op) {
      case 'setVariantPrice': {
        const v = findVariant(); if (!v) throw new Error('variant not found');
        v.priceCents = toCents(body.price); v.updatedAt = ts; st.get('Product', v.productId).updatedAt = ts; return { ok: true, variantId: v.id };
      }
      case 'setVariantSku': {
        const v = findVariant(); if (!v) throw new Error('variant not found');
        v.sku = body.newSku; v.updatedAt = ts; return { ok: true, variantId: v.id };
      }
      case 'setOnHand': case 'setAvailable': case 'setCommitted': {
        let itemId = body.inventoryItemId;
        if (!itemId && body.sku) { const v = findVariant(); itemId = v && v.inventoryItemId; }
        const locId = body.locationId || [...st.locations.values()][0].id;
        if (!st.get('InventoryItem', itemId)) throw new Error('inventory item not found');
        const l = st.activateLevel(itemId, locId);
        if (body.op === 'setOnHand') l.on_hand = Number(body.quantity);
        else if (body.op === 'setAvailable') l.on_hand = Number(body.quantity) + l.committed;
        else l.committed = Number(body.quantity);
        l.updatedAt = ts;
        return { ok: true, inventoryLevelId: l.id };
      }
      case 'deleteProduct': {
        const p = body.id ? st.get('Product', body.id) : [...st.products.values()].find((x) => x.handle === body.handle);
        if (!p) throw new Error('product not found');
        st.deleteProduct(p); return { ok: true, id: p.id };
      }
      case 'deleteVariant': {
        const v = findVariant(); if (!v) throw new Error('variant not found');
        const p = st.get('Product', v.productId); p.variantIds = p.variantIds.filter((x) => x !== v.id); st.deleteVariant(v); return { ok: true, id: v.id };
      }
      case 'setProductField': {
        const p = body.id ? st.get('Product', body.id) : [...st.products.values()].find((x) => x.handle === body.handle);
        if (!p) throw new Error('product not found');
        p[body.field] = body.value; p.updatedAt = ts; return { ok: true, id: p.id };
      }
      case 'deleteCustomer': {
        const c = body.id ? st.get('Customer', body.id) : [...st.customers.values()].find((x) => x.email === body.email);
        if (!c) throw new Error('customer not found');
        st.customers.delete(parseGid(c.id).num); return { ok: true, id: c.id };
      }
      case 'setCustomerField': {
        const c = body.id ? st.get('Customer', body.id) : [...st.customers.values()].find((x) => x.email === body.email);
        if (!c) throw new Error('customer not found');
        c[body.field] = body.value; c.updatedAt = ts; return { ok: true, id: c.id };
      }
      case 'deactivateLocation': {
        const l = st.get('Location', body.id); if (!l) throw new Error('location not found');
        l.isActive = false; l.updatedAt = ts; return { ok: true };
      }
      case 'touchOrder': {
        const o = st.get('Order', body.id); if (!o) throw new Error('order not found');
        o.updatedAt = ts; return { ok: true, updatedAt: iso(ts) };
      }
      default: throw new Error(`unknown tamper op ${body.op}`);
    }
  }
}

module.exports = { Sim };
