'use strict';
// In-memory shop state. Plain objects; views (state/views.js) turn them into GraphQL sources.
const { ID_BASE, gid, parseGid } = require('../util');

const COUNTRY_NAMES = {
  NZ: 'New Zealand', AU: 'Australia', US: 'United States', CA: 'Canada', GB: 'United Kingdom', PT: 'Portugal',
  ES: 'Spain', FR: 'France', DE: 'Germany', IT: 'Italy', IE: 'Ireland', NL: 'Netherlands', BR: 'Brazil', JP: 'Japan',
};

class Store {
  constructor(opts) {
    this.opts = opts || {};
    this.clockOffsetMs = 0;
    this.reset();
  }

  reset() {
    this.generation = (this.generation || 0) + 1;
    this.counters = {};
    this.lastTs = 0;
    this.products = new Map();
    this.variants = new Map();
    this.inventoryItems = new Map();
    this.levels = new Map(); // `${itemNum}:${locNum}` -> level
    // indexes over levels (a catalogue of 100k items x 3 locations made
    // every per-item lookup a scan of 300k levels)
    this.levelsByItem = new Map(); // itemId -> Set of levels
    this.levelsByLoc = new Map(); // locationId -> Set of levels
    this.levelsByNum = new Map(); // level num -> level
    // metafield values: `${ownerType}\0${ns}\0${key}\0${value}` -> Set of owners (state/metafields.js
    // keeps it; a customId lookup or an id-uniqueness check scanned every owner: O(catalogue) per call)
    this.mfIndex = new Map();
    this.locations = new Map();
    this.customers = new Map();
    this.orders = new Map();
    this.fulfillmentOrders = new Map();
    this.fulfillments = new Map();
    this.refunds = new Map();
    this.lineItems = new Map();
    this.adjustmentGroups = new Map();
    this.idempotency = new Map();
    this.bulkOps = new Map();
    this.stagedUploads = new Map();
    this.productOperations = new Map();
    this.orderNumber = 1000;
    this.shop = { name: 'kcloud sim shop', currencyCode: 'NZD', myshopifyDomain: 'kcloud-sim.myshopify.com' };
    this.addLocation({ name: 'Shop location', address: { countryCode: 'NZ', address1: '1 Queen Street', city: 'Auckland', zip: '1010' }, fulfillsOnlineOrders: true });
  }

  nextNum(type) {
    const n = (this.counters[type] || ID_BASE) + 1;
    this.counters[type] = n;
    return n;
  }
  newId(type) { return gid(type, this.nextNum(type)); }

  // monotonic clock (ms); DateTime values are rendered with second precision like Shopify
  nowMs() {
    let t = Date.now() + this.clockOffsetMs;
    if (t <= this.lastTs) t = this.lastTs + 1;
    this.lastTs = t;
    return t;
  }

  addLocation(input) {
    const id = this.newId('Location');
    const ts = this.nowMs();
    const a = input.address || {};
    const loc = {
      id, name: input.name, isActive: true,
      address: {
        address1: a.address1 ?? null, address2: a.address2 ?? null, city: a.city ?? null,
        countryCode: a.countryCode ?? null, country: a.countryCode ? (COUNTRY_NAMES[a.countryCode] || a.countryCode) : null,
        provinceCode: a.provinceCode ?? null, province: a.provinceCode ?? null, zip: a.zip ?? null, phone: a.phone ?? null,
      },
      fulfillsOnlineOrders: input.fulfillsOnlineOrders !== false,
      metafields: [], createdAt: ts, updatedAt: ts, deactivatedAt: null,
    };
    this.locations.set(parseGid(id).num, loc);
    return loc;
  }

  get(type, id) {
    const p = parseGid(id);
    if (!p || p.type !== type) return null;
    const m = {
      Product: this.products, ProductVariant: this.variants, InventoryItem: this.inventoryItems, Location: this.locations,
      Customer: this.customers, Order: this.orders, FulfillmentOrder: this.fulfillmentOrders, Fulfillment: this.fulfillments,
      Refund: this.refunds, LineItem: this.lineItems, BulkOperation: this.bulkOps, InventoryAdjustmentGroup: this.adjustmentGroups,
      ProductSetOperation: this.productOperations,
    }[type];
    return m ? (m.get(p.num) || null) : null;
  }

  levelKey(itemId, locId) { return `${parseGid(itemId).num}:${parseGid(locId).num}`; }
  getLevel(itemId, locId) {
    const a = parseGid(itemId); const b = parseGid(locId);
    if (!a || !b) return null;
    return this.levels.get(`${a.num}:${b.num}`) || null;
  }
  getLevelById(levelId) {
    const p = parseGid(levelId);
    if (!p || p.type !== 'InventoryLevel') return null;
    return this.levelsByNum.get(p.num) || null;
  }
  activateLevel(itemId, locId) {
    let l = this.getLevel(itemId, locId);
    if (l) return l;
    const num = this.nextNum('InventoryLevel');
    const ts = this.nowMs();
    l = {
      num, id: gid('InventoryLevel', num, `inventory_item_id=${parseGid(itemId).num}`),
      inventoryItemId: itemId, locationId: locId, on_hand: 0, committed: 0, createdAt: ts, updatedAt: ts,
    };
    this.levels.set(this.levelKey(itemId, locId), l);
    this.levelsByNum.set(num, l);
    if (!this.levelsByItem.has(itemId)) this.levelsByItem.set(itemId, new Set());
    this.levelsByItem.get(itemId).add(l);
    if (!this.levelsByLoc.has(locId)) this.levelsByLoc.set(locId, new Set());
    this.levelsByLoc.get(locId).add(l);
    return l;
  }
  deleteLevel(l) {
    this.levels.delete(this.levelKey(l.inventoryItemId, l.locationId));
    this.levelsByNum.delete(l.num);
    const a = this.levelsByItem.get(l.inventoryItemId); if (a) a.delete(l);
    const b = this.levelsByLoc.get(l.locationId); if (b) b.delete(l);
  }
  // in creation order, like the scans they replace
  levelsOfItem(itemId) { const s = this.levelsByItem.get(itemId); return s ? [...s].sort((x, y) => x.num - y.num) : []; }
  levelsAtLocation(locId) { const s = this.levelsByLoc.get(locId); return s ? [...s].sort((x, y) => x.num - y.num) : []; }

  activeLocations() { return [...this.locations.values()].filter((l) => l.isActive); }

  deleteVariant(v) {
    this.variants.delete(parseGid(v.id).num);
    const item = this.get('InventoryItem', v.inventoryItemId);
    if (item) {
      for (const l of this.levelsOfItem(item.id)) this.deleteLevel(l);
      this.inventoryItems.delete(parseGid(item.id).num);
    }
  }
  deleteProduct(p) {
    for (const vid of p.variantIds) { const v = this.get('ProductVariant', vid); if (v) this.deleteVariant(v); }
    this.products.delete(parseGid(p.id).num);
  }
  productVariants(p) { return p.variantIds.map((id) => this.get('ProductVariant', id)).filter(Boolean); }

  findOwner(id) {
    const p = parseGid(id);
    if (!p) return null;
    if (['Product', 'ProductVariant', 'Customer', 'Location', 'Order'].includes(p.type)) return this.get(p.type, id);
    return null;
  }
}

module.exports = { Store, COUNTRY_NAMES };
