'use strict';
// orderCreate (inventoryBehaviour), fulfillmentOrderMove, fulfillmentCreate, refundCreate, order queries.
const { userError, parseGid, toCents, gqlError } = require('../util');
const { filterByQuery, strMatch, timeMatch, numMatch } = require('./search');

function orderResolvers(sim, customers) {
  const S = () => sim.store;
  const V = () => sim.views;

  const bagCents = (b) => (b && b.shopMoney ? toCents(b.shopMoney.amount) : null);

  // allocate `total` cents across weights proportionally; remainder to the last non-zero weight
  function allocate(total, weights) {
    const sum = weights.reduce((s, w) => s + w, 0);
    if (sum <= 0) return weights.map(() => 0);
    const out = weights.map((w) => Math.floor((total * w) / sum));
    let rest = total - out.reduce((s, x) => s + x, 0);
    for (let i = weights.length - 1; i >= 0 && rest > 0; i--) if (weights[i] > 0) { out[i] += rest; rest = 0; }
    return out;
  }

  function pickLocation(variant, qty) {
    const st = S();
    const locs = st.activeLocations();
    if (variant) {
      const item = st.get('InventoryItem', variant.inventoryItemId);
      const stocked = locs.filter((l) => st.getLevel(item.id, l.id));
      const withStock = stocked.find((l) => { const lv = st.getLevel(item.id, l.id); return lv.on_hand - lv.committed >= qty; });
      if (withStock) return withStock;
      if (stocked.length) return stocked[0];
    }
    return locs.find((l) => l.fulfillsOnlineOrders) || locs[0];
  }

  function orderCreate(args, ctx) {
    const st = S();
    const input = args.order;
    const behaviour = (args.options && args.options.inventoryBehaviour) || 'BYPASS';
    const errs = [];
    const out = (e) => ({ order: null, userErrors: e });
    const lis = input.lineItems || [];
    if (!lis.length) return out([userError(['order', 'lineItems'], 'Line items must have at least one line item', 'INVALID')]);
    if (input.customer && input.customerId) return out([userError(['order', 'customerId'], 'Cannot specify both customer and customerId', 'REDUNDANT_CUSTOMER_FIELDS')]);
    const plans = lis.map((li, i) => {
      const f = ['order', 'lineItems', String(i)];
      let variant = null; let product = null;
      if (li.variantId != null) {
        variant = st.get('ProductVariant', li.variantId);
        if (!variant) { errs.push(userError(f.concat('variantId'), 'Variant does not exist', 'INVALID')); return null; }
        product = st.get('Product', variant.productId);
      } else if (li.title == null) { errs.push(userError(f.concat('title'), 'Title is required for custom line items', 'INVALID')); return null; }
      if (li.quantity < 1) { errs.push(userError(f.concat('quantity'), 'Quantity must be greater than 0', 'INVALID')); return null; }
      const price = li.priceSet ? bagCents(li.priceSet) : (variant ? variant.priceCents : 0);
      for (const t of li.taxLines || []) if (t.rate == null) errs.push(userError(f.concat('taxLines'), 'Tax line rate missing', 'TAX_LINE_RATE_MISSING'));
      return { li, variant, product, price };
    });
    if (input.processedAt && Date.parse(input.processedAt) > Date.now() + st.clockOffsetMs + 60000) errs.push(userError(['order', 'processedAt'], 'Processed at must not be in the future', 'PROCESSED_AT_INVALID'));
    if (errs.length) return out(errs);

    // inventory claims
    const claims = [];
    for (const p of plans) {
      p.location = pickLocation(p.variant, p.li.quantity);
      if (!p.variant || behaviour === 'BYPASS') continue;
      const item = st.get('InventoryItem', p.variant.inventoryItemId);
      if (!item.tracked) continue;
      const lv = st.getLevel(item.id, p.location.id);
      const available = lv ? lv.on_hand - lv.committed : 0;
      if (behaviour === 'DECREMENT_OBEYING_POLICY' && p.variant.inventoryPolicy === 'DENY' && available < p.li.quantity) {
        errs.push(userError(['order', 'lineItems', String(plans.indexOf(p)), 'quantity'], `Unable to reserve inventory: only ${available} available for ${p.variant.sku || p.variant.id}`, 'INVENTORY_CLAIM_FAILED'));
        continue;
      }
      claims.push({ p, item });
    }
    if (errs.length) return out(errs);

    // customer
    let customer = null;
    if (input.customer) {
      if (input.customer.toAssociate) {
        const a = input.customer.toAssociate;
        customer = a.id ? st.get('Customer', a.id) : (a.email ? customers.byEmail(a.email) : null);
        if (!customer) return out([userError(['order', 'customer', 'toAssociate'], 'Customer does not exist', 'INVALID')]);
      } else if (input.customer.toUpsert) {
        const u = input.customer.toUpsert;
        customer = (u.id && st.get('Customer', u.id)) || (u.email && customers.byEmail(u.email)) || (u.phone && customers.byPhone(u.phone)) || null;
        if (!customer) { customer = customers.newCustomer(); st.customers.set(parseGid(customer.id).num, customer); }
        customers.applyCustomer(customer, { email: u.email ?? undefined, phone: u.phone ?? undefined, firstName: u.firstName ?? undefined, lastName: u.lastName ?? undefined,
          note: u.note ?? undefined, tags: u.tags ?? undefined, addresses: u.addresses ?? undefined });
      }
    } else if (input.customerId) {
      customer = st.get('Customer', input.customerId);
    }

    const ts = st.nowMs();
    const number = ++st.orderNumber;
    const order = {
      id: st.newId('Order'), number, name: input.name || `#${number}`, email: input.email ?? (customer ? customer.email : null), phone: input.phone ?? null,
      customerId: customer ? customer.id : null, taxesIncluded: !!input.taxesIncluded, test: !!input.test, sourceName: input.sourceName || 'shopify_draft_order',
      sourceIdentifier: input.sourceIdentifier || null, note: input.note || null, tags: input.tags || [], poNumber: input.poNumber || null,
      createdAt: ts, updatedAt: ts, processedAt: input.processedAt ? Date.parse(input.processedAt) : ts, cancelledAt: null, closedAt: input.closedAt ? Date.parse(input.closedAt) : null,
      billingAddress: input.billingAddress ? customers.mkAddress(input.billingAddress) : null,
      shippingAddress: input.shippingAddress ? customers.mkAddress(input.shippingAddress) : null,
      lineItemIds: [], shippingLines: [], discountApplications: [], discountCodes: [], transactions: [],
      fulfillmentOrderIds: [], fulfillmentIds: [], refundIds: [], metafields: [], inventoryBehaviour: behaviour, financialStatus: 'PENDING',
    };
    st.orders.set(parseGid(order.id).num, order);
    const lineItems = plans.map((p) => {
      const vt = p.variant ? V().variantTitle(p.variant) : (p.li.variantTitle || null);
      const title = p.product ? p.product.title : p.li.title;
      const li = {
        id: st.newId('LineItem'), orderId: order.id, variantId: p.variant ? p.variant.id : null, productId: p.product ? p.product.id : null,
        sku: p.variant ? p.variant.sku : (p.li.sku || null), title, variantTitle: vt === 'Default Title' ? null : vt,
        name: vt && vt !== 'Default Title' ? `${title} - ${vt}` : title, vendor: p.product ? p.product.vendor : (p.li.vendor || null),
        quantity: p.li.quantity, priceCents: p.price, discountAllocations: [], taxLines: (p.li.taxLines || []).map((t) => ({ title: t.title, rate: Number(t.rate), priceCents: bagCents(t.priceSet), channelLiable: !!t.channelLiable })),
        taxable: p.li.taxable != null ? p.li.taxable : (p.variant ? p.variant.taxable : true), requiresShipping: p.li.requiresShipping != null ? p.li.requiresShipping : true,
        giftCard: !!p.li.giftCard, claimed: 0, claimLocationId: null, refundedQty: 0, fulfilledQty: 0, locationId: p.location.id,
      };
      st.lineItems.set(parseGid(li.id).num, li);
      order.lineItemIds.push(li.id);
      p.lineItem = li;
      return li;
    });
    // discount code
    const dc = input.discountCode;
    if (dc) {
      const gross = lineItems.map((li) => li.priceCents * li.quantity);
      if (dc.itemFixedDiscountCode) {
        const amt = Math.min(bagCents(dc.itemFixedDiscountCode.amountSet) || 0, gross.reduce((s, x) => s + x, 0));
        order.discountApplications.push({ index: 0, code: dc.itemFixedDiscountCode.code, allocationMethod: 'ACROSS', targetSelection: 'ALL', targetType: 'LINE_ITEM', value: { type: 'money', amountCents: amt } });
        allocate(amt, gross).forEach((a, i) => { if (a) lineItems[i].discountAllocations.push({ index: 0, amountCents: a }); });
        order.discountCodes.push(dc.itemFixedDiscountCode.code);
      } else if (dc.itemPercentageDiscountCode) {
        const pct = dc.itemPercentageDiscountCode.percentage || 0;
        order.discountApplications.push({ index: 0, code: dc.itemPercentageDiscountCode.code, allocationMethod: 'ACROSS', targetSelection: 'ALL', targetType: 'LINE_ITEM', value: { type: 'percent', percentage: pct } });
        gross.forEach((g, i) => { const a = Math.round((g * pct) / 100); if (a) lineItems[i].discountAllocations.push({ index: 0, amountCents: a }); });
        order.discountCodes.push(dc.itemPercentageDiscountCode.code);
      } else if (dc.freeShippingDiscountCode) {
        order.discountApplications.push({ index: 0, code: dc.freeShippingDiscountCode.code, allocationMethod: 'EACH', targetSelection: 'ALL', targetType: 'SHIPPING_LINE', value: { type: 'percent', percentage: 100 } });
        order.discountCodes.push(dc.freeShippingDiscountCode.code);
      }
    }
    // line tax lines without priceSet: compute from rate
    for (const li of lineItems) {
      const net = li.priceCents * li.quantity - li.discountAllocations.reduce((s, d) => s + d.amountCents, 0);
      for (const t of li.taxLines) if (t.priceCents == null) t.priceCents = order.taxesIncluded ? Math.round(net - net / (1 + t.rate)) : Math.round(net * t.rate);
    }
    // order-level tax lines: distributed over the line items proportionally to their net totals
    for (const t of input.taxLines || []) {
      const nets = lineItems.map((li) => li.priceCents * li.quantity - li.discountAllocations.reduce((s, d) => s + d.amountCents, 0));
      const total = t.priceSet ? bagCents(t.priceSet) : nets.reduce((s, n) => s + (order.taxesIncluded ? Math.round(n - n / (1 + Number(t.rate))) : Math.round(n * Number(t.rate))), 0);
      allocate(total, nets).forEach((a, i) => lineItems[i].taxLines.push({ title: t.title, rate: Number(t.rate), priceCents: a, channelLiable: !!t.channelLiable }));
    }
    for (const s of input.shippingLines || []) {
      const price = bagCents(s.priceSet);
      const free = dc && dc.freeShippingDiscountCode;
      order.shippingLines.push({ id: st.newId('ShippingLine'), title: s.title, code: s.code || null, source: s.source || null, priceCents: price, discountCents: free ? price : 0,
        taxLines: (s.taxLines || []).map((t) => ({ title: t.title, rate: Number(t.rate), priceCents: t.priceSet ? bagCents(t.priceSet) : Math.round(price * Number(t.rate)) })) });
    }
    for (const t of input.transactions || []) {
      order.transactions.push({ id: st.newId('OrderTransaction'), orderId: order.id, kind: t.kind || 'SALE', status: t.status || 'SUCCESS', gateway: t.gateway || 'manual',
        amountCents: bagCents(t.amountSet), createdAt: ts, processedAt: t.processedAt ? Date.parse(t.processedAt) : ts, test: !!t.test, authorizationCode: t.authorizationCode || null });
    }
    const totals = V().orderTotals(order);
    if (input.financialStatus) order.financialStatus = input.financialStatus;
    else if (order.transactions.length) {
      const auth = order.transactions.filter((t) => t.kind === 'AUTHORIZATION' && t.status === 'SUCCESS').reduce((s, t) => s + t.amountCents, 0);
      order.financialStatus = totals.received >= totals.total ? 'PAID' : totals.received > 0 ? 'PARTIALLY_PAID' : auth > 0 ? 'AUTHORIZED' : 'PENDING';
    }
    // claims (committed units)
    for (const { p, item } of claims) {
      const lv = st.activateLevel(item.id, p.location.id);
      lv.committed += p.li.quantity; lv.updatedAt = ts;
      p.lineItem.claimed = p.li.quantity; p.lineItem.claimLocationId = p.location.id;
    }
    // fulfillment orders, grouped by assigned location (gift cards / no-shipping lines included)
    const byLoc = new Map();
    for (const li of lineItems) { if (!byLoc.has(li.locationId)) byLoc.set(li.locationId, []); byLoc.get(li.locationId).push(li); }
    for (const [locId, items] of byLoc) {
      const fo = { id: st.newId('FulfillmentOrder'), orderId: order.id, locationId: locId, status: 'OPEN', createdAt: ts, updatedAt: ts,
        lineItems: items.map((li) => ({ id: st.newId('FulfillmentOrderLineItem'), lineItemId: li.id, totalQuantity: li.quantity, remainingQuantity: li.quantity })) };
      st.fulfillmentOrders.set(parseGid(fo.id).num, fo);
      order.fulfillmentOrderIds.push(fo.id);
    }
    // created already fulfilled
    if (input.fulfillmentStatus === 'FULFILLED' || input.fulfillment) {
      const locId = input.fulfillment ? input.fulfillment.locationId : null;
      for (const foId of order.fulfillmentOrderIds) {
        const fo = st.get('FulfillmentOrder', foId);
        if (locId && st.get('Location', locId)) moveFo(fo, locId);
        doFulfill([{ fo, lines: fo.lineItems.map((x) => ({ foli: x, qty: x.remainingQuantity })) }], order, input.fulfillment && input.fulfillment.trackingNumber ? { number: input.fulfillment.trackingNumber, company: input.fulfillment.trackingCompany } : null);
      }
    }
    ctx.sim.counters.mutationsApplied++;
    sim.webhooks.emit('orders/create', order);
    return { order: V().orderView(order), userErrors: [] };
  }

  // move a whole fulfillment order (and its committed units) to another location
  function moveFo(fo, newLocId) {
    const st = S();
    if (fo.locationId === newLocId) return;
    const ts = st.nowMs();
    for (const x of fo.lineItems) {
      const li = st.get('LineItem', x.lineItemId);
      if (li.claimed > 0 && li.claimLocationId === fo.locationId) {
        const v = st.get('ProductVariant', li.variantId);
        const remainingClaim = Math.min(li.claimed, x.remainingQuantity);
        if (v && remainingClaim > 0) {
          const old = st.getLevel(v.inventoryItemId, fo.locationId);
          if (old) { old.committed -= remainingClaim; old.updatedAt = ts; }
          const nl = st.activateLevel(v.inventoryItemId, newLocId);
          nl.committed += remainingClaim; nl.updatedAt = ts;
        }
        li.claimLocationId = newLocId;
      }
      li.locationId = newLocId;
    }
    fo.locationId = newLocId; fo.updatedAt = ts;
  }

  function fulfillmentOrderMove(args, ctx) {
    const st = S();
    const fo = st.get('FulfillmentOrder', args.id);
    const out = (e) => ({ movedFulfillmentOrder: null, originalFulfillmentOrder: null, remainingFulfillmentOrder: null, userErrors: e });
    if (!fo) return out([userError(['id'], 'Fulfillment order does not exist.', 'GENERIC_ERROR')]);
    const loc = st.get('Location', args.newLocationId);
    if (!loc || !loc.isActive) return out([userError(['newLocationId'], 'Location does not exist or is not active.', 'GENERIC_ERROR')]);
    if (fo.status !== 'OPEN') return out([userError(['id'], 'Fulfillment order must be open to be moved.', 'GENERIC_ERROR')]);
    // Shopify refuses a destination that does not stock an item of the fulfillment order
    for (const x of fo.lineItems) {
      const li = st.get('LineItem', x.lineItemId);
      const v = li && li.variantId ? st.get('ProductVariant', li.variantId) : null;
      if (v && !st.getLevel(v.inventoryItemId, loc.id)) return out([userError(['newLocationId'], `The location ${loc.name} does not stock ${v.sku || v.id}.`, 'GENERIC_ERROR')]);
    }
    if (args.fulfillmentOrderLineItems && args.fulfillmentOrderLineItems.length) {
      const all = fo.lineItems.every((x) => args.fulfillmentOrderLineItems.some((y) => y.id === x.id && y.quantity === x.remainingQuantity));
      if (!all) return out([userError(['fulfillmentOrderLineItems'], 'Partial moves are not supported by the simulator; move the whole fulfillment order.', 'GENERIC_ERROR')]);
    }
    moveFo(fo, loc.id);
    const order = st.get('Order', fo.orderId);
    order.updatedAt = st.nowMs();
    ctx.sim.counters.mutationsApplied++;
    const v = V().foView(fo);
    return { movedFulfillmentOrder: v, originalFulfillmentOrder: v, remainingFulfillmentOrder: null, userErrors: [] };
  }

  // groups: [{fo, lines:[{foli, qty}]}]
  function doFulfill(groups, order, tracking) {
    const st = S();
    const ts = st.nowMs();
    const f = { id: st.newId('Fulfillment'), orderId: order.id, name: `${order.name}-F${order.fulfillmentIds.length + 1}`, status: 'SUCCESS',
      locationId: groups[0].fo.locationId, createdAt: ts, updatedAt: ts, lineItems: [], fulfillmentOrderIds: groups.map((g) => g.fo.id), tracking };
    for (const g of groups) {
      for (const { foli, qty } of g.lines) {
        if (!qty) continue;
        const li = st.get('LineItem', foli.lineItemId);
        foli.remainingQuantity -= qty;
        li.fulfilledQty += qty;
        const v = li.variantId ? st.get('ProductVariant', li.variantId) : null;
        const item = v ? st.get('InventoryItem', v.inventoryItemId) : null;
        if (item && item.tracked) {
          const lv = st.activateLevel(item.id, g.fo.locationId);
          lv.on_hand -= qty;
          if (li.claimed > 0 && li.claimLocationId === g.fo.locationId) { const c = Math.min(li.claimed, qty); lv.committed -= c; li.claimed -= c; }
          lv.updatedAt = ts;
        }
        f.lineItems.push({ id: st.newId('FulfillmentLineItem'), lineItemId: li.id, quantity: qty });
      }
      g.fo.status = g.fo.lineItems.every((x) => x.remainingQuantity === 0) ? 'CLOSED' : 'IN_PROGRESS';
      g.fo.updatedAt = ts;
    }
    st.fulfillments.set(parseGid(f.id).num, f);
    order.fulfillmentIds.push(f.id);
    order.updatedAt = ts;
    const status = V().fulfillmentStatus(order);
    sim.webhooks.emit(status === 'FULFILLED' ? 'orders/fulfilled' : 'orders/partially_fulfilled', order);
    sim.webhooks.emit('orders/updated', order);
    return f;
  }

  function fulfillmentCreate(args, ctx) {
    const st = S();
    const input = args.fulfillment;
    const out = (e) => ({ fulfillment: null, userErrors: e });
    if (!input.lineItemsByFulfillmentOrder.length) return out([userError(['fulfillment', 'lineItemsByFulfillmentOrder'], 'Line items by fulfillment order must not be empty.')]);
    const groups = [];
    let order = null;
    for (const [i, g] of input.lineItemsByFulfillmentOrder.entries()) {
      const fo = st.get('FulfillmentOrder', g.fulfillmentOrderId);
      const f = ['fulfillment', 'lineItemsByFulfillmentOrder', String(i)];
      if (!fo) return out([userError(f.concat('fulfillmentOrderId'), 'Fulfillment order does not exist.')]);
      if (order && order.id !== fo.orderId) return out([userError(f.concat('fulfillmentOrderId'), 'All fulfillment orders must belong to the same order.')]);
      if (groups.length && groups[0].fo.locationId !== fo.locationId) return out([userError(f.concat('fulfillmentOrderId'), 'All fulfillment orders must be assigned to the same location.')]);
      order = st.get('Order', fo.orderId);
      if (fo.status === 'CLOSED' || fo.status === 'CANCELLED') return out([userError(f.concat('fulfillmentOrderId'), `Fulfillment order ${fo.id} has an unfulfillable status= ${fo.status.toLowerCase()}.`)]);
      let lines;
      if (!g.fulfillmentOrderLineItems || !g.fulfillmentOrderLineItems.length) lines = fo.lineItems.filter((x) => x.remainingQuantity > 0).map((x) => ({ foli: x, qty: x.remainingQuantity }));
      else {
        lines = [];
        for (const [j, x] of g.fulfillmentOrderLineItems.entries()) {
          const foli = fo.lineItems.find((y) => y.id === x.id);
          if (!foli) return out([userError(f.concat('fulfillmentOrderLineItems', String(j), 'id'), 'Fulfillment order line item does not exist.')]);
          if (x.quantity < 1 || x.quantity > foli.remainingQuantity) return out([userError(f.concat('fulfillmentOrderLineItems', String(j), 'quantity'), `Invalid quantity: ${x.quantity} requested, ${foli.remainingQuantity} remaining.`)]);
          lines.push({ foli, qty: x.quantity });
        }
      }
      if (!lines.length) return out([userError(f, 'Nothing left to fulfill.')]);
      groups.push({ fo, lines });
    }
    const tr = input.trackingInfo ? { number: input.trackingInfo.number || null, company: input.trackingInfo.company || null, url: input.trackingInfo.url || null } : null;
    const ful = doFulfill(groups, order, tr);
    ctx.sim.counters.mutationsApplied++;
    return { fulfillment: V().fulfillmentView(ful), userErrors: [] };
  }

  function refundCreate(args, ctx) {
    const st = S();
    const input = args.input;
    const order = st.get('Order', input.orderId);
    const out = (e) => ({ order: null, refund: null, userErrors: e });
    if (!order) return out([userError(['input', 'orderId'], 'Order does not exist')]);
    const plans = [];
    for (const [i, r] of (input.refundLineItems || []).entries()) {
      const f = ['input', 'refundLineItems', String(i)];
      const li = st.get('LineItem', r.lineItemId);
      if (!li || li.orderId !== order.id) return out([userError(f.concat('lineItemId'), 'Line item does not exist on this order')]);
      const refundable = li.quantity - li.refundedQty - plans.filter((p) => p.li === li).reduce((s, p) => s + p.r.quantity, 0);
      if (r.quantity < 1 || r.quantity > refundable) return out([userError(f.concat('quantity'), `Quantity cannot refund more items than were purchased (${refundable} refundable).`)]);
      let loc = null;
      if (r.locationId != null) { loc = st.get('Location', r.locationId); if (!loc || !loc.isActive) return out([userError(f.concat('locationId'), 'Location does not exist or is not active')]); }
      plans.push({ li, r, loc });
    }
    const ts = st.nowMs();
    const refund = { id: st.newId('Refund'), orderId: order.id, note: input.note || null, createdAt: ts, processedAt: input.processedAt ? Date.parse(input.processedAt) : ts,
      lineItems: [], shippingLines: [], transactions: [], totalRefundedCents: 0 };
    for (const { li, r, loc } of plans) {
      const type = r.restockType || 'RETURN';
      const fos = order.fulfillmentOrderIds.map((id) => st.get('FulfillmentOrder', id));
      const unfulfilled = fos.reduce((s, fo) => s + fo.lineItems.filter((x) => x.lineItemId === li.id).reduce((a, x) => a + x.remainingQuantity, 0), 0);
      // units refunded come first from the unfulfilled remainder for CANCEL / NO_RESTOCK, else from fulfilled units
      const fromUnfulfilled = (type === 'RETURN') ? Math.max(0, r.quantity - (li.fulfilledQty - returnedQty(order, li))) : Math.min(unfulfilled, r.quantity);
      const fromFulfilled = r.quantity - fromUnfulfilled;
      const v = li.variantId ? st.get('ProductVariant', li.variantId) : null;
      const item = v ? st.get('InventoryItem', v.inventoryItemId) : null;
      const restockLoc = loc ? loc.id : (li.locationId || null);
      let restocked = false;
      // remove unfulfilled units from the fulfillment orders, releasing claims
      let toRemove = Math.min(fromUnfulfilled, unfulfilled);
      for (const fo of fos) {
        for (const x of fo.lineItems.filter((y) => y.lineItemId === li.id)) {
          const n = Math.min(toRemove, x.remainingQuantity);
          if (!n) continue;
          x.remainingQuantity -= n; x.totalQuantity -= n; toRemove -= n;
          if (item && item.tracked && li.claimed > 0) {
            const lv = st.getLevel(item.id, li.claimLocationId);
            const c = Math.min(li.claimed, n);
            if (lv) { lv.committed -= c; if (type === 'NO_RESTOCK') lv.on_hand -= c; lv.updatedAt = ts; }
            li.claimed -= c;
            if (type !== 'NO_RESTOCK') restocked = true;
          }
          fo.status = fo.lineItems.every((y) => y.remainingQuantity === 0) ? (fo.lineItems.every((y) => y.totalQuantity === 0) ? 'CLOSED' : 'CLOSED') : fo.status;
          fo.updatedAt = ts;
        }
      }
      // returned (already fulfilled) units go back on hand
      if (fromFulfilled > 0 && type !== 'NO_RESTOCK' && item && item.tracked && restockLoc) {
        const lv = st.activateLevel(item.id, restockLoc);
        lv.on_hand += fromFulfilled; lv.updatedAt = ts; restocked = true;
      }
      li.refundedQty += r.quantity;
      const lt = V().lineTotals(li);
      const unitNet = li.quantity ? lt.net / li.quantity : 0;
      const sub = Math.round(unitNet * r.quantity);
      const tax = li.quantity ? Math.round((lt.tax * r.quantity) / li.quantity) : 0;
      refund.lineItems.push({ id: st.newId('RefundLineItem'), lineItemId: li.id, quantity: r.quantity, restockType: type, restocked,
        locationId: type === 'NO_RESTOCK' ? (loc ? loc.id : null) : restockLoc, priceCents: li.priceCents, subtotalCents: sub, taxCents: tax, fromFulfilled });
    }
    if (input.shipping) {
      const already = order.refundIds.map((id) => st.get('Refund', id)).reduce((s, r) => s + r.shippingLines.reduce((a, x) => a + x.subtotalCents, 0), 0);
      const shipTotal = order.shippingLines.reduce((s, x) => s + x.priceCents - x.discountCents, 0);
      let amt = input.shipping.fullRefund ? shipTotal - already : (input.shipping.shippingRefundAmount ? toCents(input.shipping.shippingRefundAmount.amount) : 0);
      amt = Math.max(0, Math.min(amt, shipTotal - already));
      if (amt > 0 && order.shippingLines.length) {
        const sl = order.shippingLines[0];
        const slTax = sl.taxLines.reduce((s, t) => s + t.priceCents, 0);
        const slNet = sl.priceCents - sl.discountCents;
        refund.shippingLines.push({ id: st.newId('RefundShippingLine'), shippingLineId: sl.id, subtotalCents: amt, taxCents: slNet ? Math.round((slTax * amt) / slNet) : 0 });
      }
    }
    for (const t of input.transactions || []) {
      if (t.orderId !== order.id) return out([userError(['input', 'transactions'], 'Transaction order id does not match the refund order')]);
      const tx = { id: st.newId('OrderTransaction'), orderId: order.id, kind: t.kind, status: 'SUCCESS', gateway: t.gateway, amountCents: toCents(t.amount), createdAt: ts, processedAt: ts, parentId: t.parentId || null };
      refund.transactions.push(tx);
      order.transactions.push(tx);
      if (t.kind === 'REFUND') refund.totalRefundedCents += tx.amountCents;
    }
    st.refunds.set(parseGid(refund.id).num, refund);
    order.refundIds.push(refund.id);
    order.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    sim.webhooks.emit('refunds/create', refund);
    sim.webhooks.emit('orders/updated', order);
    return { order: V().orderView(order), refund: V().refundView(refund), userErrors: [] };
  }

  function orderCancel(args, ctx) {
    const st = S();
    const order = st.get('Order', args.orderId);
    const err = (m, c) => ({ job: null, jobResult: null, orderCancelUserErrors: [userError(['orderId'], m, c)], userErrors: [userError(['orderId'], m)] });
    if (!order) return err('Order does not exist', 'NOT_FOUND');
    if (order.cancelledAt) return err('Order has already been cancelled', 'INVALID');
    if (order.fulfillmentIds.length) return err('Cannot cancel an order that has fulfillments', 'INVALID');
    const ts = st.nowMs();
    const refund = { id: st.newId('Refund'), orderId: order.id, note: args.staffNote || null, createdAt: ts, processedAt: ts, lineItems: [], shippingLines: [], transactions: [], totalRefundedCents: 0 };
    for (const li of V().orderLineItems(order)) {
      const q = li.quantity - li.refundedQty;
      if (q <= 0) continue;
      const v = li.variantId ? st.get('ProductVariant', li.variantId) : null;
      let restocked = false;
      if (v && li.claimed > 0) {
        const lv = st.getLevel(v.inventoryItemId, li.claimLocationId);
        if (lv) { lv.committed -= li.claimed; if (!args.restock) lv.on_hand -= li.claimed; lv.updatedAt = ts; }
        li.claimed = 0; restocked = !!args.restock;
      }
      const lt = V().lineTotals(li);
      refund.lineItems.push({ id: st.newId('RefundLineItem'), lineItemId: li.id, quantity: q, restockType: args.restock ? 'CANCEL' : 'NO_RESTOCK', restocked,
        locationId: li.locationId, priceCents: li.priceCents, subtotalCents: Math.round((lt.net * q) / li.quantity), taxCents: Math.round((lt.tax * q) / li.quantity), fromFulfilled: 0 });
      li.refundedQty += q;
    }
    for (const foId of order.fulfillmentOrderIds) {
      const fo = st.get('FulfillmentOrder', foId);
      for (const x of fo.lineItems) x.remainingQuantity = 0;
      fo.status = 'CANCELLED'; fo.updatedAt = ts;
    }
    const wantsRefund = args.refund === true || (args.refundMethod && args.refundMethod.originalPaymentMethodsRefund);
    if (wantsRefund) {
      const T = V().orderTotals(order);
      const amt = T.received - T.refunded;
      if (amt > 0) {
        const gw = (order.transactions.find((t) => t.kind === 'SALE' || t.kind === 'CAPTURE') || { gateway: 'manual' }).gateway;
        const tx = { id: st.newId('OrderTransaction'), orderId: order.id, kind: 'REFUND', status: 'SUCCESS', gateway: gw, amountCents: amt, createdAt: ts, processedAt: ts };
        refund.transactions.push(tx); order.transactions.push(tx); refund.totalRefundedCents = amt;
      }
    }
    if (refund.lineItems.length || refund.transactions.length) { st.refunds.set(parseGid(refund.id).num, refund); order.refundIds.push(refund.id); }
    order.cancelledAt = ts; order.closedAt = ts; order.cancelReason = args.reason; order.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    sim.webhooks.emit('orders/cancelled', order);
    sim.webhooks.emit('orders/updated', order);
    return { job: { __typename: 'Job', id: st.newId('Job'), done: true }, jobResult: null, orderCancelUserErrors: [], userErrors: [] };
  }

  function orderUpdate(args, ctx) {
    const st = S();
    const input = args.input;
    const order = st.get('Order', input.id);
    if (!order) return { order: null, userErrors: [userError(['input', 'id'], 'Order does not exist')] };
    for (const k of ['email', 'phone', 'note', 'tags', 'poNumber']) if (input[k] !== undefined) order[k] = input[k];
    if (input.shippingAddress) order.shippingAddress = customers.mkAddress(input.shippingAddress);
    for (const mf of input.metafields || []) sim.metafields.upsert(order, mf);
    order.updatedAt = st.nowMs();
    ctx.sim.counters.mutationsApplied++;
    sim.webhooks.emit('orders/updated', order);
    return { order: V().orderView(order), userErrors: [] };
  }

  function orderMarkAsPaid(args, ctx) {
    const st = S();
    const order = st.get('Order', args.input.id);
    if (!order) return { order: null, userErrors: [userError(['input', 'id'], 'Order does not exist')] };
    const T = V().orderTotals(order);
    if (T.received >= T.total) return { order: null, userErrors: [userError(['input', 'id'], 'Order cannot be marked as paid.')] };
    const ts = st.nowMs();
    order.transactions.push({ id: st.newId('OrderTransaction'), orderId: order.id, kind: 'SALE', status: 'SUCCESS', gateway: 'manual', amountCents: T.total - T.received, createdAt: ts, processedAt: ts });
    order.financialStatus = 'PAID'; order.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    return { order: V().orderView(order), userErrors: [] };
  }

  function orderClose(args, ctx) {
    const st = S();
    const order = st.get('Order', args.input.id);
    if (!order) return { order: null, userErrors: [userError(['input', 'id'], 'Order does not exist')] };
    const ts = st.nowMs();
    order.closedAt = ts; order.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    return { order: V().orderView(order), userErrors: [] };
  }

  function returnedQty(order, li) {
    return order.refundIds.map((id) => S().get('Refund', id)).reduce((s, r) => s + r.lineItems.filter((x) => x.lineItemId === li.id).reduce((a, x) => a + (x.fromFulfilled || 0), 0), 0);
  }

  const FS_MAP = {
    shipped: ['FULFILLED'], fulfilled: ['FULFILLED'], partial: ['PARTIALLY_FULFILLED'], unshipped: ['UNFULFILLED'],
    unfulfilled: ['UNFULFILLED', 'PARTIALLY_FULFILLED'], any: null, restocked: ['RESTOCKED'],
  };
  const filters = {
    fulfillment_status: (o, t) => { const m = FS_MAP[t.value.toLowerCase()]; return m === null ? true : (m || [t.value.toUpperCase()]).includes(V().fulfillmentStatus(o)); },
    financial_status: (o, t) => t.value.toUpperCase() === 'ANY' || V().financialStatus(o) === t.value.toUpperCase(),
    status: (o, t) => { const v = t.value.toLowerCase(); if (v === 'any') return true; if (v === 'cancelled') return !!o.cancelledAt; if (v === 'closed') return !!o.closedAt; if (v === 'open' || v === 'not_closed') return !o.closedAt && !o.cancelledAt; return false; },
    updated_at: (o, t) => timeMatch(o.updatedAt, t), created_at: (o, t) => timeMatch(o.createdAt, t), processed_at: (o, t) => timeMatch(o.processedAt, t),
    name: (o, t) => strMatch(o.name, t) || strMatch(o.name.replace(/^#/, ''), t), id: (o, t) => numMatch(parseGid(o.id).num, t),
    email: (o, t) => strMatch(o.email, t), test: (o, t) => String(!!o.test) === t.value.toLowerCase(), source_name: (o, t) => strMatch(o.sourceName, t),
    tag: (o, t) => (o.tags || []).some((x) => strMatch(x, t)),
    customer_id: (o, t) => o.customerId != null && numMatch(parseGid(o.customerId).num, t),
    fulfillment_location_id: (o, t) => o.fulfillmentIds.some((id) => numMatch(parseGid(S().get('Fulfillment', id).locationId).num, t)),
    location_id: (o, t) => o.fulfillmentOrderIds.some((id) => numMatch(parseGid(S().get('FulfillmentOrder', id).locationId).num, t)),
    sku: (o, t) => o.lineItemIds.some((id) => strMatch(S().get('LineItem', id).sku, t)),
  };
  const SORTS = {
    UPDATED_AT: (o) => [o.updatedAt, parseGid(o.id).num], CREATED_AT: (o) => [o.createdAt, parseGid(o.id).num], PROCESSED_AT: (o) => [o.processedAt, parseGid(o.id).num],
    ID: (o) => [parseGid(o.id).num], ORDER_NUMBER: (o) => [o.number, parseGid(o.id).num], TOTAL_PRICE: (o) => [V().orderTotals(o).total, parseGid(o.id).num],
  };

  function ordersQuery(a) {
    const key = SORTS[a.sortKey] || SORTS.PROCESSED_AT;
    const list = filterByQuery([...S().orders.values()], a.query, filters, (o, txt) => strMatch(o.name, { value: txt }) || strMatch(o.email, { value: txt }) || strMatch(o.name.replace(/^#/, ''), { value: txt }))
      .sort((x, y) => { const p = key(x); const q = key(y); for (let i = 0; i < p.length; i++) { if (p[i] < q[i]) return -1; if (p[i] > q[i]) return 1; } return 0; });
    return V().conn(list.map((o) => Object.assign(V().orderView(o), { __raw: o })), a, (x) => key(x.__raw));
  }

  return {
    Query: {
      order: (a) => V().orderView(S().get('Order', a.id)),
      orders: ordersQuery,
      fulfillmentOrder: (a) => V().foView(S().get('FulfillmentOrder', a.id)),
      fulfillment: (a) => V().fulfillmentView(S().get('Fulfillment', a.id)),
      refund: (a) => V().refundView(S().get('Refund', a.id)),
    },
    Mutation: { orderCreate, fulfillmentCreate, fulfillmentOrderMove, refundCreate, orderCancel, orderUpdate, orderMarkAsPaid, orderClose },
  };
}

module.exports = { orderResolvers };
