'use strict';
// inventorySetQuantities / inventoryAdjustQuantities (compare-and-set, all-or-nothing), activation, queries.
const { userError, parseGid, gqlError } = require('../util');
const { filterByQuery, strMatch, numMatch, timeMatch } = require('./search');

const REASONS = new Set(['correction', 'cycle_count_available', 'damaged', 'movement_created', 'movement_updated', 'movement_received',
  'movement_canceled', 'other', 'promotion', 'quality_control', 'received', 'reservation_created', 'reservation_deleted',
  'reservation_updated', 'restock', 'safety_stock', 'shrinkage']);

function inventoryResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;

  function newGroup(reason, ref, changes) {
    const st = S();
    const g = { id: st.newId('InventoryAdjustmentGroup'), createdAt: st.nowMs(), reason, referenceDocumentUri: ref || null, changes };
    st.adjustmentGroups.set(parseGid(g.id).num, g);
    return g;
  }

  // applies a change to a level, returns change records for available + on_hand
  function changeRecords(l, name, oldAvail, oldOnHand) {
    const rec = (n, before, after) => ({ name: n, delta: after - before, quantityAfterChange: after, itemId: l.inventoryItemId, locationId: l.locationId });
    const a = rec('available', oldAvail, l.on_hand - l.committed);
    const o = rec('on_hand', oldOnHand, l.on_hand);
    return name === 'on_hand' ? [o, a] : [a, o];
  }

  function inventorySetQuantities(args, ctx, info) {
    const st = S();
    const input = args.input;
    const raw = ctx.rawArg(info, 'input') || {};
    const rawQ = Array.isArray(raw.quantities) ? raw.quantities : [];
    const errs = [];
    const out = () => ({ inventoryAdjustmentGroup: null, userErrors: errs });
    if (input.name !== 'available' && input.name !== 'on_hand') {
      errs.push(userError(['input', 'name'], 'The quantity name must be either \'available\' or \'on_hand\'.', 'INVALID_NAME'));
      return out();
    }
    if (!REASONS.has(input.reason)) { errs.push(userError(['input', 'reason'], 'The specified reason is invalid.', 'INVALID_REASON')); return out(); }
    if (input.referenceDocumentUri != null && !/^[a-z][a-z0-9+.-]*:\/\/?\S+/i.test(input.referenceDocumentUri)) {
      errs.push(userError(['input', 'referenceDocumentUri'], 'The reference document URI is invalid.', 'INVALID_REFERENCE_DOCUMENT')); return out();
    }
    const seen = new Set();
    const plans = [];
    input.quantities.forEach((q, i) => {
      const f = ['input', 'quantities', String(i)];
      const r = rawQ[i];
      if (!r || typeof r !== 'object' || !Object.prototype.hasOwnProperty.call(r, 'changeFromQuantity')) {
        errs.push(userError(f.concat('changeFromQuantity'), 'The changeFromQuantity field is required. Pass null to skip the compare-and-swap check.', 'COMPARE_QUANTITY_REQUIRED'));
        return;
      }
      const item = st.get('InventoryItem', q.inventoryItemId);
      if (!item) { errs.push(userError(f.concat('inventoryItemId'), 'The specified inventory item could not be found.', 'INVALID_INVENTORY_ITEM')); return; }
      const loc = st.get('Location', q.locationId);
      if (!loc) { errs.push(userError(f.concat('locationId'), 'The specified location could not be found.', 'INVALID_LOCATION')); return; }
      const key = `${q.inventoryItemId}|${q.locationId}`;
      if (seen.has(key)) { errs.push(userError(f, 'The combination of inventoryItemId and locationId must be unique.', 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR')); return; }
      seen.add(key);
      const l = st.getLevel(q.inventoryItemId, q.locationId);
      if (!l || !loc.isActive) { errs.push(userError(f.concat('locationId'), 'The specified inventory item is not stocked at the location.', 'INVALID_LOCATION')); return; }
      if (q.quantity > 1000000000) { errs.push(userError(f.concat('quantity'), 'The quantity can\'t be higher than 1,000,000,000.', 'INVALID_QUANTITY_TOO_HIGH')); return; }
      if (q.quantity < -1000000000) { errs.push(userError(f.concat('quantity'), 'The quantity can\'t be lower than -1,000,000,000.', 'INVALID_QUANTITY_TOO_LOW')); return; }
      const current = V().qty(l, input.name);
      if (q.changeFromQuantity != null && q.changeFromQuantity !== current) {
        errs.push(userError(f.concat('changeFromQuantity'), `The specified compare quantity does not match the current quantity (${current}).`, 'CHANGE_FROM_QUANTITY_STALE'));
        return;
      }
      plans.push({ l, q });
    });
    if (errs.length) return out();
    const changes = [];
    const ts = st.nowMs();
    for (const { l, q } of plans) {
      const oldA = l.on_hand - l.committed; const oldO = l.on_hand;
      if (input.name === 'on_hand') l.on_hand = q.quantity; else l.on_hand = q.quantity + l.committed;
      l.updatedAt = ts;
      changes.push(...changeRecords(l, input.name, oldA, oldO));
    }
    ctx.sim.counters.mutationsApplied++;
    return { inventoryAdjustmentGroup: V().adjustmentGroupView(newGroup(input.reason, input.referenceDocumentUri, changes)), userErrors: [] };
  }

  function inventoryAdjustQuantities(args, ctx, info) {
    const st = S();
    const input = args.input;
    const raw = ctx.rawArg(info, 'input') || {};
    const rawC = Array.isArray(raw.changes) ? raw.changes : [];
    const errs = [];
    const out = () => ({ inventoryAdjustmentGroup: null, userErrors: errs });
    if (input.name !== 'available' && input.name !== 'on_hand') { errs.push(userError(['input', 'name'], 'The quantity name is invalid (available or on_hand supported).', 'INVALID_QUANTITY_NAME')); return out(); }
    if (!REASONS.has(input.reason)) { errs.push(userError(['input', 'reason'], 'The specified reason is invalid.', 'INVALID_REASON')); return out(); }
    const plans = [];
    input.changes.forEach((c, i) => {
      const f = ['input', 'changes', String(i)];
      const r = rawC[i];
      if (!r || typeof r !== 'object' || !Object.prototype.hasOwnProperty.call(r, 'changeFromQuantity')) {
        errs.push(userError(f.concat('changeFromQuantity'), 'The changeFromQuantity field is required. Pass null to skip the compare-and-swap check.', null)); return;
      }
      if (input.name !== 'available' && !c.ledgerDocumentUri) { errs.push(userError(f.concat('ledgerDocumentUri'), 'A ledger document URI is required for this quantity name.', 'INVALID_LEDGER_DOCUMENT')); return; }
      const item = st.get('InventoryItem', c.inventoryItemId);
      if (!item) { errs.push(userError(f.concat('inventoryItemId'), 'The specified inventory item could not be found.', 'INVALID_INVENTORY_ITEM')); return; }
      const l = st.getLevel(c.inventoryItemId, c.locationId);
      if (!l) { errs.push(userError(f.concat('locationId'), 'The specified inventory item is not stocked at the location.', 'INVALID_LOCATION')); return; }
      const current = V().qty(l, input.name);
      if (c.changeFromQuantity != null && c.changeFromQuantity !== current) { errs.push(userError(f.concat('changeFromQuantity'), `The specified compare quantity does not match the current quantity (${current}).`, 'CHANGE_FROM_QUANTITY_STALE')); return; }
      plans.push({ l, c });
    });
    if (errs.length) return out();
    const changes = [];
    const ts = st.nowMs();
    for (const { l, c } of plans) {
      const oldA = l.on_hand - l.committed; const oldO = l.on_hand;
      l.on_hand += c.delta; l.updatedAt = ts;
      changes.push(...changeRecords(l, input.name, oldA, oldO).map((x) => Object.assign(x, { ledgerDocumentUri: c.ledgerDocumentUri || null })));
    }
    ctx.sim.counters.mutationsApplied++;
    return { inventoryAdjustmentGroup: V().adjustmentGroupView(newGroup(input.reason, input.referenceDocumentUri, changes)), userErrors: [] };
  }

  function inventoryActivate(args, ctx) {
    const st = S();
    const item = st.get('InventoryItem', args.inventoryItemId);
    if (!item) return { inventoryLevel: null, userErrors: [userError(['inventoryItemId'], 'Inventory item does not exist')] };
    const loc = st.get('Location', args.locationId);
    if (!loc) return { inventoryLevel: null, userErrors: [userError(['locationId'], 'Location does not exist')] };
    if (!loc.isActive) return { inventoryLevel: null, userErrors: [userError(['locationId'], 'Location is not active')] };
    const existed = !!st.getLevel(item.id, loc.id);
    const l = st.activateLevel(item.id, loc.id);
    if (!existed || args.available != null || args.onHand != null) {
      if (args.onHand != null) l.on_hand = args.onHand;
      else if (args.available != null) l.on_hand = args.available + l.committed;
      l.updatedAt = st.nowMs();
    }
    ctx.sim.counters.mutationsApplied++;
    return { inventoryLevel: V().levelView(l), userErrors: [] };
  }

  function inventoryBulkToggleActivation(args, ctx) {
    const st = S();
    const item = st.get('InventoryItem', args.inventoryItemId);
    const out = (e) => ({ inventoryItem: null, inventoryLevels: null, userErrors: e });
    if (!item) return out([userError(['inventoryItemId'], 'The inventory item could not be found.', 'INVENTORY_ITEM_NOT_FOUND')]);
    const errs = [];
    const levels = st.levelsOfItem(item.id);
    let stockedCount = levels.length;
    args.inventoryItemUpdates.forEach((u, i) => {
      const loc = st.get('Location', u.locationId);
      if (!loc || !loc.isActive) { errs.push(userError(['inventoryItemUpdates', String(i), 'locationId'], 'The location could not be found.', 'LOCATION_NOT_FOUND')); return; }
      const l = st.getLevel(item.id, loc.id);
      if (!u.activate && l) {
        if (l.committed > 0) errs.push(userError(['inventoryItemUpdates', String(i), 'locationId'], 'The variant couldn\'t be unstocked because it has committed inventory at this location.', 'COMMITTED_INVENTORY_AT_LOCATION'));
        else if (stockedCount <= 1) errs.push(userError(['inventoryItemUpdates', String(i), 'locationId'], 'The variant couldn\'t be unstocked from its only location.', 'CANNOT_DEACTIVATE_FROM_ONLY_LOCATION'));
        else stockedCount--;
      }
    });
    if (errs.length) return out(errs);
    const touched = [];
    for (const u of args.inventoryItemUpdates) {
      const l = st.getLevel(item.id, u.locationId);
      if (u.activate) touched.push(st.activateLevel(item.id, u.locationId));
      else if (l) st.deleteLevel(l);
    }
    ctx.sim.counters.mutationsApplied++;
    return { inventoryItem: V().inventoryItemView(item), inventoryLevels: touched.map(V().levelView), userErrors: [] };
  }

  function inventoryDeactivate(args, ctx) {
    const st = S();
    const l = st.getLevelById(args.inventoryLevelId);
    if (!l) return { userErrors: [userError(['inventoryLevelId'], 'Inventory level does not exist')] };
    if (l.committed > 0) return { userErrors: [userError(['inventoryLevelId'], 'Cannot deactivate an inventory level with committed inventory')] };
    if (st.levelsOfItem(l.inventoryItemId).length <= 1) return { userErrors: [userError(['inventoryLevelId'], 'Cannot deactivate the only location of an inventory item')] };
    st.deleteLevel(l);
    ctx.sim.counters.mutationsApplied++;
    return { userErrors: [] };
  }

  function inventoryItemUpdate(args, ctx) {
    const st = S();
    const item = st.get('InventoryItem', args.id);
    if (!item) return { inventoryItem: null, userErrors: [userError(['id'], 'Inventory item does not exist')] };
    const ii = args.input;
    const v = st.get('ProductVariant', item.variantId);
    if (ii.tracked != null) item.tracked = ii.tracked;
    if (ii.requiresShipping != null) item.requiresShipping = ii.requiresShipping;
    if (ii.cost !== undefined) item.costCents = ii.cost == null ? null : Math.round(Number(ii.cost) * 100);
    if (ii.sku !== undefined && v) { v.sku = ii.sku; v.updatedAt = st.nowMs(); }
    if (ii.harmonizedSystemCode !== undefined) item.harmonizedSystemCode = ii.harmonizedSystemCode;
    if (ii.countryCodeOfOrigin !== undefined) item.countryCodeOfOrigin = ii.countryCodeOfOrigin;
    item.updatedAt = st.nowMs();
    ctx.sim.counters.mutationsApplied++;
    return { inventoryItem: V().inventoryItemView(item), userErrors: [] };
  }

  return {
    Query: {
      inventoryItem: (a) => V().inventoryItemView(S().get('InventoryItem', a.id)),
      inventoryItems: (a) => {
        const items = filterByQuery([...S().inventoryItems.values()], a.query, {
          sku: (it, t) => { const v = S().get('ProductVariant', it.variantId); return strMatch(v && v.sku, t); },
          id: (it, t) => numMatch(parseGid(it.id).num, t), updated_at: (it, t) => timeMatch(it.updatedAt, t),
          created_at: (it, t) => timeMatch(it.createdAt, t),
        }, (it, txt) => { const v = S().get('ProductVariant', it.variantId); return strMatch(v && v.sku, { value: txt }); });
        return V().conn(items.map(V().inventoryItemView), a);
      },
      inventoryLevel: (a) => V().levelView(S().getLevelById(a.id)),
      inventoryAdjustmentGroup: (a) => V().adjustmentGroupView(S().get('InventoryAdjustmentGroup', a.id)),
    },
    Mutation: { inventorySetQuantities, inventoryAdjustQuantities, inventoryActivate, inventoryBulkToggleActivation, inventoryDeactivate, inventoryItemUpdate },
  };
}

module.exports = { inventoryResolvers };
