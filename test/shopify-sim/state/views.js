'use strict';
// GraphQL source objects ("views") built from stored state. The default field resolver reads a
// same-named property or calls a same-named function(args, ctx, info).
const crypto = require('node:crypto');
const { gid, parseGid, numOf, fmt, connection, requireFirstOrLast } = require('../util');

function iso(ms) { return ms == null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'); }

function makeViews(st) {
  const cur = () => st.shop.currencyCode;
  const money = (c) => ({ __typename: 'MoneyV2', amount: fmt(c), currencyCode: cur() });
  const bag = (c) => ({ __typename: 'MoneyBag', shopMoney: money(c), presentmentMoney: money(c) });
  // a bulk query runs with pagination lifted (st.liftPagination): a connection without first/last is all of it
  const conn = (items, args, keyFn) => {
    args = args || {};
    if (!(st.liftPagination && args.first == null && args.last == null)) requireFirstOrLast(args);
    return connection(items, args, keyFn || ((x) => [Number(x.legacyResourceId || 0)]));
  };
  const take = (arr, args) => (args && args.first != null ? arr.slice(0, args.first) : arr);

  // ---------- metafields
  function metafieldView(owner, ownerType, mf) {
    return {
      __typename: 'Metafield', id: mf.id, legacyResourceId: numOf(mf.id), namespace: mf.namespace, key: mf.key,
      type: mf.type, value: mf.value, description: null,
      jsonValue: () => { try { if (/^(json|number_|boolean|list\.|money|rating|dimension|volume|weight)/.test(mf.type)) return JSON.parse(mf.value); } catch (e) { /* fallthrough */ } return mf.value; },
      compareDigest: crypto.createHash('sha256').update(mf.value).digest('hex'),
      createdAt: iso(mf.createdAt), updatedAt: iso(mf.updatedAt), ownerType,
      owner: () => ownerView(owner), sizeInBytes: Buffer.byteLength(mf.value),
    };
  }
  function metafieldsApi(owner, ownerType) {
    return {
      metafield: (a) => {
        const ns = a.namespace == null ? '$app' : a.namespace;
        const mf = owner.metafields.find((m) => m.namespace === ns && m.key === a.key);
        return mf ? metafieldView(owner, ownerType, mf) : null;
      },
      metafields: (a) => {
        let list = owner.metafields;
        if (a.namespace != null) list = list.filter((m) => m.namespace === a.namespace);
        if (a.keys) list = list.filter((m) => a.keys.includes(`${m.namespace}.${m.key}`));
        return conn(list.map((m) => metafieldView(owner, ownerType, m)), a);
      },
    };
  }
  function ownerView(o) {
    const t = parseGid(o.id).type;
    return ({ Product: productView, ProductVariant: variantView, Customer: customerView, Location: locationView, Order: orderView })[t](o);
  }

  // ---------- products
  function productView(p) {
    if (!p) return null;
    const variants = () => st.productVariants(p);
    return Object.assign({
      __typename: 'Product', id: p.id, legacyResourceId: numOf(p.id), title: p.title, handle: p.handle,
      descriptionHtml: p.descriptionHtml || '', bodyHtml: p.descriptionHtml || '',
      description: () => String(p.descriptionHtml || '').replace(/<[^>]*>/g, ''),
      vendor: p.vendor || '', productType: p.productType || '', status: p.status, tags: p.tags || [],
      createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt), publishedAt: p.status === 'ACTIVE' ? iso(p.createdAt) : null,
      isGiftCard: !!p.giftCard, templateSuffix: p.templateSuffix || null,
      publishedOnPublication: (a) => (p.publications || []).some((n) => gid('Publication', n) === a.publicationId),
      publishedOnCurrentPublication: () => (p.publications || []).length > 0,
      publicationCount: () => (p.publications || []).length,
      resourcePublicationsCount: () => ({ __typename: 'Count', count: (p.publications || []).length, precision: 'EXACT' }),
      hasOnlyDefaultVariant: () => p.options.length === 1 && p.options[0].name === 'Title' && p.options[0].values[0] === 'Default Title',
      options: (a) => take(p.options, a).map((o) => optionView(p, o)),
      variants: (a) => conn(variants().map(variantView), a),
      variantsCount: () => ({ __typename: 'Count', count: variants().length, precision: 'EXACT' }),
      totalInventory: () => variants().reduce((s, v) => s + variantAvailable(v), 0),
      tracksInventory: () => variants().some((v) => { const it = st.get('InventoryItem', v.inventoryItemId); return it && it.tracked; }),
    }, metafieldsApi(p, 'PRODUCT'));
  }
  function optionView(p, o) {
    return {
      __typename: 'ProductOption', id: o.id, name: o.name, position: o.position, values: o.values.slice(),
      optionValues: o.values.map((v, i) => ({ __typename: 'ProductOptionValue', id: o.valueIds[i], name: v, linkedMetafieldValue: null,
        hasVariants: st.productVariants(p).some((vr) => vr.selectedOptions.some((so) => so.name === o.name && so.value === v)) })),
    };
  }
  function variantAvailable(v) {
    return st.levelsOfItem(v.inventoryItemId).reduce((s, l) => s + (l.on_hand - l.committed), 0);
  }
  function variantView(v) {
    if (!v) return null;
    const p = st.get('Product', v.productId);
    return Object.assign({
      __typename: 'ProductVariant', id: v.id, legacyResourceId: numOf(v.id), sku: v.sku, barcode: v.barcode,
      price: fmt(v.priceCents), compareAtPrice: v.compareAtCents == null ? null : fmt(v.compareAtCents),
      title: variantTitle(v), displayName: `${p ? p.title : ''} - ${variantTitle(v)}`,
      position: v.position, inventoryPolicy: v.inventoryPolicy, taxable: v.taxable, taxCode: v.taxCode || null,
      createdAt: iso(v.createdAt), updatedAt: iso(v.updatedAt),
      selectedOptions: v.selectedOptions.map((so) => ({ __typename: 'SelectedOption', name: so.name, value: so.value,
        optionValue: () => { const o = p.options.find((x) => x.name === so.name); const i = o ? o.values.indexOf(so.value) : -1;
          return { __typename: 'ProductOptionValue', id: i >= 0 ? o.valueIds[i] : gid('ProductOptionValue', 0), name: so.value, hasVariants: true }; } })),
      product: () => productView(p),
      inventoryItem: () => inventoryItemView(st.get('InventoryItem', v.inventoryItemId)),
      inventoryQuantity: () => variantAvailable(v),
      availableForSale: () => p.status === 'ACTIVE' && (v.inventoryPolicy === 'CONTINUE' || variantAvailable(v) > 0),
      sellableOnlineQuantity: () => variantAvailable(v),
    }, metafieldsApi(v, 'PRODUCTVARIANT'));
  }
  function variantTitle(v) { return v.selectedOptions.map((s) => s.value).join(' / ') || 'Default Title'; }

  // ---------- inventory
  function inventoryItemView(it) {
    if (!it) return null;
    const v = st.get('ProductVariant', it.variantId);
    return {
      __typename: 'InventoryItem', id: it.id, legacyResourceId: numOf(it.id), sku: v ? v.sku : null, tracked: it.tracked,
      requiresShipping: it.requiresShipping, createdAt: iso(it.createdAt), updatedAt: iso(it.updatedAt),
      harmonizedSystemCode: it.harmonizedSystemCode || null, countryCodeOfOrigin: it.countryCodeOfOrigin || null,
      unitCost: it.costCents == null ? null : money(it.costCents), duplicateSkuCount: () => v && v.sku ? [...st.variants.values()].filter((x) => x.sku === v.sku).length - 1 : 0,
      variant: () => variantView(v),
      inventoryLevel: (a) => { const l = st.getLevel(it.id, a.locationId); return l ? levelView(l) : null; },
      inventoryLevels: (a) => conn(st.levelsOfItem(it.id).map(levelView), a),
      locationsCount: () => ({ __typename: 'Count', count: st.levelsOfItem(it.id).length, precision: 'EXACT' }),
      measurement: { __typename: 'InventoryItemMeasurement', id: gid('InventoryItemMeasurement', numOf(it.id)), weight: { __typename: 'Weight', unit: 'KILOGRAMS', value: 0 } },
    };
  }
  const QTY_NAMES = ['available', 'on_hand', 'committed', 'reserved', 'incoming', 'damaged', 'safety_stock', 'quality_control'];
  function qty(l, name) {
    if (name === 'available') return l.on_hand - l.committed;
    if (name === 'on_hand') return l.on_hand;
    if (name === 'committed') return l.committed;
    return 0;
  }
  function levelView(l) {
    if (!l) return null;
    return {
      __typename: 'InventoryLevel', id: l.id, isActive: true, canDeactivate: l.committed === 0,
      createdAt: iso(l.createdAt), updatedAt: iso(l.updatedAt), deactivationAlert: null,
      item: () => inventoryItemView(st.get('InventoryItem', l.inventoryItemId)),
      location: () => locationView(st.get('Location', l.locationId)),
      quantities: (a) => a.names.map((n) => ({ __typename: 'InventoryQuantity', id: `${l.id.split('?')[0]}/${n}?inventory_item_id=${numOf(l.inventoryItemId)}`,
        name: n, quantity: QTY_NAMES.includes(n) ? qty(l, n) : 0, updatedAt: iso(l.updatedAt) })),
    };
  }
  function adjustmentGroupView(g) {
    if (!g) return null;
    return {
      __typename: 'InventoryAdjustmentGroup', id: g.id, createdAt: iso(g.createdAt), reason: g.reason, referenceDocumentUri: g.referenceDocumentUri || null,
      app: null, staffMember: null,
      changes: (a) => g.changes.filter((c) => (!a.inventoryItemIds || a.inventoryItemIds.includes(c.itemId))
        && (!a.locationIds || a.locationIds.includes(c.locationId)) && (!a.quantityNames || a.quantityNames.includes(c.name)))
        .map((c) => ({ __typename: 'InventoryChange', name: c.name, delta: c.delta, quantityAfterChange: c.quantityAfterChange,
          ledgerDocumentUri: c.ledgerDocumentUri || null,
          item: () => inventoryItemView(st.get('InventoryItem', c.itemId)), location: () => locationView(st.get('Location', c.locationId)) })),
    };
  }

  // ---------- locations
  function locationView(l) {
    if (!l) return null;
    const a = l.address;
    return Object.assign({
      __typename: 'Location', id: l.id, legacyResourceId: numOf(l.id), name: l.name, isActive: l.isActive,
      activatable: !l.isActive, deactivatable: l.isActive, deletable: !l.isActive, isPrimary: l === [...st.locations.values()][0],
      fulfillsOnlineOrders: l.fulfillsOnlineOrders, shipsInventory: true, isFulfillmentService: false, addressVerified: false,
      hasActiveInventory: () => st.levelsAtLocation(l.id).some((x) => x.on_hand !== 0 || x.committed !== 0),
      hasUnfulfilledOrders: () => [...st.fulfillmentOrders.values()].some((fo) => fo.locationId === l.id && fo.status !== 'CLOSED'),
      createdAt: iso(l.createdAt), updatedAt: iso(l.updatedAt), deactivatedAt: l.deactivatedAt ? iso(l.deactivatedAt) : null,
      address: Object.assign({ __typename: 'LocationAddress', latitude: null, longitude: null,
        formatted: [a.address1, a.address2, [a.city, a.provinceCode, a.zip].filter(Boolean).join(' '), a.country].filter(Boolean) }, a),
      inventoryLevel: (x) => { const lv = st.getLevel(x.inventoryItemId, l.id); return lv ? levelView(lv) : null; },
      inventoryLevels: (x) => conn(st.levelsAtLocation(l.id).map(levelView), x, (v) => [Number(v.id.split('/').pop().split('?')[0])]),
      suggestedAddresses: [],
    }, metafieldsApi(l, 'LOCATION'));
  }

  // ---------- customers
  function addressView(a, c) {
    if (!a) return null;
    return Object.assign({ __typename: 'MailingAddress', id: a.id || gid('MailingAddress', 0), coordinatesValidated: false,
      name: [a.firstName, a.lastName].filter(Boolean).join(' ') || null, countryCodeV2: a.countryCode || null,
      formatted: [a.address1, a.address2, [a.city, a.provinceCode || a.province, a.zip].filter(Boolean).join(' '), a.country].filter(Boolean),
      formattedArea: [a.city, a.province || a.provinceCode, a.country].filter(Boolean).join(', ') || null, latitude: null, longitude: null,
    }, { address1: a.address1 ?? null, address2: a.address2 ?? null, city: a.city ?? null, company: a.company ?? null,
      country: a.country ?? null, countryCode: a.countryCode ?? null, firstName: a.firstName ?? (c ? c.firstName : null) ?? null,
      lastName: a.lastName ?? (c ? c.lastName : null) ?? null, phone: a.phone ?? null, province: a.province ?? null,
      provinceCode: a.provinceCode ?? null, zip: a.zip ?? null });
  }
  function customerView(c) {
    if (!c) return null;
    return Object.assign({
      __typename: 'Customer', id: c.id, legacyResourceId: numOf(c.id), email: c.email, phone: c.phone,
      firstName: c.firstName, lastName: c.lastName, locale: c.locale || 'en', note: c.note, tags: c.tags || [],
      taxExempt: !!c.taxExempt, taxExemptions: c.taxExemptions || [], state: 'DISABLED', verifiedEmail: !!c.email, validEmailAddress: !!c.email,
      displayName: [c.firstName, c.lastName].filter(Boolean).join(' ') || c.email || c.phone || '',
      createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt),
      defaultEmailAddress: c.email ? { __typename: 'CustomerEmailAddress', emailAddress: c.email, marketingState: 'NOT_SUBSCRIBED', validFormat: true } : null,
      defaultPhoneNumber: c.phone ? { __typename: 'CustomerPhoneNumber', phoneNumber: c.phone, marketingState: 'NOT_SUBSCRIBED' } : null,
      defaultAddress: c.addresses.length ? addressView(c.addresses[0], c) : null,
      addresses: (a) => take(c.addresses, a).map((x) => addressView(x, c)),
      addressesV2: (a) => conn(c.addresses.map((x) => Object.assign(addressView(x, c), { legacyResourceId: numOf(x.id) })), a),
      numberOfOrders: () => String([...st.orders.values()].filter((o) => o.customerId === c.id).length),
      amountSpent: () => money([...st.orders.values()].filter((o) => o.customerId === c.id).reduce((s, o) => s + orderTotals(o).total, 0)),
      orders: (a) => conn([...st.orders.values()].filter((o) => o.customerId === c.id).map(orderView), a),
    }, metafieldsApi(c, 'CUSTOMER'));
  }

  // ---------- orders
  function lineTotals(li) {
    const gross = li.priceCents * li.quantity;
    const disc = li.discountAllocations.reduce((s, d) => s + d.amountCents, 0);
    const tax = li.taxLines.reduce((s, t) => s + t.priceCents, 0);
    return { gross, disc, net: gross - disc, tax };
  }
  function orderLineItems(o) { return o.lineItemIds.map((id) => st.get('LineItem', id)); }
  function orderTotals(o) {
    const lis = orderLineItems(o);
    let subtotalGross = 0; let lineDisc = 0; let tax = 0;
    for (const li of lis) { const t = lineTotals(li); subtotalGross += t.gross; lineDisc += t.disc; tax += t.tax; }
    let shipping = 0; let shipDisc = 0;
    for (const s of o.shippingLines) { shipping += s.priceCents - s.discountCents; shipDisc += s.discountCents; tax += s.taxLines.reduce((a, t) => a + t.priceCents, 0); }
    const subtotal = subtotalGross - lineDisc;
    const total = subtotal + shipping + (o.taxesIncluded ? 0 : tax);
    const refunds = o.refundIds.map((id) => st.get('Refund', id));
    const refunded = refunds.reduce((s, r) => s + r.totalRefundedCents, 0);
    const refundedGoods = refunds.reduce((s, r) => s + r.lineItems.reduce((a, x) => a + x.subtotalCents + (o.taxesIncluded ? 0 : x.taxCents), 0)
      + r.shippingLines.reduce((a, x) => a + x.subtotalCents + (o.taxesIncluded ? 0 : x.taxCents), 0), 0);
    const received = o.transactions.filter((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS').reduce((s, t) => s + t.amountCents, 0);
    return { subtotalGross, lineDisc, shipDisc, discounts: lineDisc + shipDisc, subtotal, shipping, tax, total, refunded, refundedGoods, received };
  }
  function financialStatus(o) {
    const t = orderTotals(o);
    if (t.refunded > 0) return t.refunded >= t.total ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    return o.financialStatus;
  }
  function fulfillmentStatus(o) {
    const lis = orderLineItems(o).filter((li) => !li.giftCard || true);
    const fos = o.fulfillmentOrderIds.map((id) => st.get('FulfillmentOrder', id));
    const total = fos.reduce((s, fo) => s + fo.lineItems.reduce((a, x) => a + x.totalQuantity, 0), 0);
    const remaining = fos.reduce((s, fo) => s + fo.lineItems.reduce((a, x) => a + x.remainingQuantity, 0), 0);
    const fulfilled = lis.reduce((s, li) => s + li.fulfilledQty, 0);
    if (fulfilled === 0) return remaining === 0 && total > 0 ? 'RESTOCKED' : 'UNFULFILLED';
    if (remaining === 0) return 'FULFILLED';
    return 'PARTIALLY_FULFILLED';
  }
  function taxLineView(t) {
    return { __typename: 'TaxLine', title: t.title, rate: t.rate, ratePercentage: Math.round(t.rate * 10000) / 100, price: fmt(t.priceCents), priceSet: bag(t.priceCents), channelLiable: !!t.channelLiable, source: null };
  }
  function aggregateTaxLines(o) {
    const m = new Map();
    const add = (t) => { const k = `${t.title}|${t.rate}`; const e = m.get(k) || { title: t.title, rate: t.rate, priceCents: 0 }; e.priceCents += t.priceCents; m.set(k, e); };
    for (const li of orderLineItems(o)) li.taxLines.forEach(add);
    for (const s of o.shippingLines) s.taxLines.forEach(add);
    return [...m.values()];
  }
  function discountApplicationView(d) {
    return {
      __typename: d.code ? 'DiscountCodeApplication' : 'ManualDiscountApplication', index: d.index, code: d.code, title: d.code,
      allocationMethod: d.allocationMethod, targetSelection: d.targetSelection, targetType: d.targetType,
      value: d.value.type === 'percent' ? { __typename: 'PricingPercentageValue', percentage: d.value.percentage } : money(d.value.amountCents),
    };
  }
  function lineItemView(li) {
    if (!li) return null;
    const o = st.get('Order', li.orderId);
    const t = lineTotals(li);
    const fos = o.fulfillmentOrderIds.map((id) => st.get('FulfillmentOrder', id));
    const unfulfilled = fos.reduce((s, fo) => s + fo.lineItems.filter((x) => x.lineItemId === li.id).reduce((a, x) => a + x.remainingQuantity, 0), 0);
    const current = li.quantity - li.refundedQty;
    return {
      __typename: 'LineItem', id: li.id, sku: li.sku, name: li.name, title: li.title, variantTitle: li.variantTitle, vendor: li.vendor,
      quantity: li.quantity, currentQuantity: current, taxable: li.taxable, requiresShipping: li.requiresShipping, isGiftCard: !!li.giftCard,
      fulfillableQuantity: unfulfilled, unfulfilledQuantity: unfulfilled, nonFulfillableQuantity: li.quantity - unfulfilled - li.fulfilledQty,
      refundableQuantity: current, restockable: true, canRestock: true, merchantEditable: true,
      fulfillmentStatus: li.fulfilledQty === 0 ? 'unfulfilled' : (unfulfilled === 0 ? 'fulfilled' : 'partial'),
      originalUnitPrice: fmt(li.priceCents), originalUnitPriceSet: bag(li.priceCents),
      discountedUnitPrice: fmt(li.priceCents), discountedUnitPriceSet: bag(li.priceCents),
      discountedUnitPriceAfterAllDiscountsSet: bag(li.quantity ? Math.round(t.net / li.quantity) : li.priceCents),
      originalTotal: fmt(t.gross), originalTotalSet: bag(t.gross),
      totalDiscount: fmt(t.disc), totalDiscountSet: bag(t.disc),
      discountedTotal: fmt(t.gross),
      discountedTotalSet: (a) => bag(a && a.withCodeDiscounts ? t.net : t.gross),
      priceAfterAllDiscountsBeforeTaxesSet: bag(t.net),
      unfulfilledOriginalTotal: fmt(li.priceCents * unfulfilled), unfulfilledOriginalTotalSet: bag(li.priceCents * unfulfilled),
      unfulfilledDiscountedTotal: fmt(li.priceCents * unfulfilled), unfulfilledDiscountedTotalSet: bag(li.priceCents * unfulfilled),
      discountAllocations: li.discountAllocations.map((d) => ({ __typename: 'DiscountAllocation', allocatedAmount: money(d.amountCents), allocatedAmountSet: bag(d.amountCents),
        discountApplication: discountApplicationView(o.discountApplications[d.index]) })),
      taxLines: (a) => take(li.taxLines, a).map(taxLineView),
      variant: () => variantView(st.get('ProductVariant', li.variantId)),
      product: () => productView(st.get('Product', li.productId)),
      customAttributes: [], duties: [],
    };
  }
  function shippingLineView(s) {
    return {
      __typename: 'ShippingLine', id: s.id, title: s.title, code: s.code, source: s.source, custom: true, isRemoved: false, carrierIdentifier: null,
      price: fmt(s.priceCents), originalPrice: money(s.priceCents), originalPriceSet: bag(s.priceCents),
      discountedPrice: money(s.priceCents - s.discountCents), discountedPriceSet: bag(s.priceCents - s.discountCents),
      currentDiscountedPriceSet: bag(s.priceCents - s.discountCents),
      taxLines: s.taxLines.map(taxLineView), discountAllocations: [],
    };
  }
  function transactionView(t) {
    return {
      __typename: 'OrderTransaction', id: t.id, kind: t.kind, status: t.status, gateway: t.gateway, formattedGateway: t.gateway,
      amount: fmt(t.amountCents), amountSet: bag(t.amountCents), amountV2: money(t.amountCents), test: !!t.test,
      createdAt: iso(t.createdAt), processedAt: iso(t.processedAt || t.createdAt), manualPaymentGateway: t.gateway === 'manual',
      authorizationCode: t.authorizationCode || null, errorCode: null, fees: [],
      order: () => orderView(st.get('Order', t.orderId)), parentTransaction: null,
    };
  }
  function foView(fo) {
    if (!fo) return null;
    const o = st.get('Order', fo.orderId);
    const loc = st.get('Location', fo.locationId);
    return {
      __typename: 'FulfillmentOrder', id: fo.id, status: fo.status, requestStatus: 'UNSUBMITTED', createdAt: iso(fo.createdAt), updatedAt: iso(fo.updatedAt),
      orderId: o.id, orderName: o.name, orderProcessedAt: iso(o.processedAt), order: () => orderView(o), fulfillmentHolds: [], supportedActions: [],
      assignedLocation: { __typename: 'FulfillmentOrderAssignedLocation', name: loc.name, address1: loc.address.address1, address2: loc.address.address2,
        city: loc.address.city, countryCode: loc.address.countryCode || 'NZ', province: loc.address.province, zip: loc.address.zip, phone: loc.address.phone,
        location: () => locationView(loc) },
      lineItems: (a) => conn(fo.lineItems.map((x) => {
        const li = st.get('LineItem', x.lineItemId);
        return { __typename: 'FulfillmentOrderLineItem', id: x.id, legacyResourceId: numOf(x.id), totalQuantity: x.totalQuantity, remainingQuantity: x.remainingQuantity,
          sku: li.sku, productTitle: li.title, variantTitle: li.variantTitle, vendor: li.vendor, requiresShipping: li.requiresShipping,
          originalUnitPriceSet: bag(li.priceCents), warnings: [], financialSummaries: [],
          inventoryItemId: () => { const v = st.get('ProductVariant', li.variantId); return v ? v.inventoryItemId : null; },
          lineItem: () => lineItemView(li), variant: () => variantView(st.get('ProductVariant', li.variantId)) };
      }), a),
      fulfillments: (a) => conn(o.fulfillmentIds.map((id) => st.get('Fulfillment', id)).filter((f) => f.fulfillmentOrderIds.includes(fo.id)).map(fulfillmentView), a),
    };
  }
  function fulfillmentView(f) {
    if (!f) return null;
    const o = st.get('Order', f.orderId);
    return {
      __typename: 'Fulfillment', id: f.id, legacyResourceId: numOf(f.id), name: f.name, status: f.status, displayStatus: 'FULFILLED',
      createdAt: iso(f.createdAt), updatedAt: iso(f.updatedAt), deliveredAt: null, inTransitAt: null, estimatedDeliveryAt: null, requiresShipping: true,
      totalQuantity: f.lineItems.reduce((s, x) => s + x.quantity, 0),
      location: () => locationView(st.get('Location', f.locationId)), order: () => orderView(o),
      trackingInfo: () => (f.tracking ? [{ __typename: 'FulfillmentTrackingInfo', company: f.tracking.company || null, number: f.tracking.number || null, url: f.tracking.url || null }] : []),
      fulfillmentLineItems: (a) => conn(f.lineItems.map((x) => {
        const li = st.get('LineItem', x.lineItemId);
        return { __typename: 'FulfillmentLineItem', id: x.id, legacyResourceId: numOf(x.id), quantity: x.quantity, lineItem: () => lineItemView(li),
          originalTotal: fmt(li.priceCents * x.quantity), originalTotalSet: bag(li.priceCents * x.quantity),
          discountedTotal: fmt(li.priceCents * x.quantity), discountedTotalSet: bag(li.priceCents * x.quantity) };
      }), a),
      fulfillmentOrders: (a) => conn(f.fulfillmentOrderIds.map((id) => foView(st.get('FulfillmentOrder', id))), a),
    };
  }
  function refundView(r) {
    if (!r) return null;
    return {
      __typename: 'Refund', id: r.id, legacyResourceId: numOf(r.id), note: r.note, createdAt: iso(r.createdAt), processedAt: iso(r.processedAt),
      updatedAt: iso(r.createdAt), totalRefunded: money(r.totalRefundedCents), totalRefundedSet: bag(r.totalRefundedCents),
      order: () => orderView(st.get('Order', r.orderId)), duties: [], return: null, staffMember: null,
      refundLineItems: (a) => conn(r.lineItems.map((x) => ({
        __typename: 'RefundLineItem', id: x.id, legacyResourceId: numOf(x.id), quantity: x.quantity, restockType: x.restockType, restocked: x.restocked,
        price: fmt(x.priceCents), priceSet: bag(x.priceCents), subtotal: fmt(x.subtotalCents), subtotalSet: bag(x.subtotalCents),
        totalTax: fmt(x.taxCents), totalTaxSet: bag(x.taxCents),
        location: () => (x.locationId ? locationView(st.get('Location', x.locationId)) : null),
        lineItem: () => lineItemView(st.get('LineItem', x.lineItemId)),
      })), a),
      refundShippingLines: (a) => conn(r.shippingLines.map((x) => {
        const o = st.get('Order', r.orderId);
        return { __typename: 'RefundShippingLine', id: x.id, legacyResourceId: numOf(x.id), subtotalAmountSet: bag(x.subtotalCents), taxAmountSet: bag(x.taxCents),
          shippingLine: shippingLineView(o.shippingLines.find((s) => s.id === x.shippingLineId)) };
      }), a),
      orderAdjustments: (a) => conn([], a),
      transactions: (a) => conn(r.transactions.map(transactionView), a),
    };
  }
  function orderView(o) {
    if (!o) return null;
    const T = () => orderTotals(o);
    const c = o.customerId ? st.get('Customer', o.customerId) : null;
    return Object.assign({
      __typename: 'Order', id: o.id, legacyResourceId: numOf(o.id), name: o.name, number: o.number, email: o.email, phone: o.phone,
      note: o.note, tags: o.tags || [], test: !!o.test, sourceName: o.sourceName, sourceIdentifier: o.sourceIdentifier || null, poNumber: o.poNumber || null,
      createdAt: iso(o.createdAt), updatedAt: iso(o.updatedAt), processedAt: iso(o.processedAt), cancelledAt: iso(o.cancelledAt), closedAt: iso(o.closedAt),
      closed: !!o.closedAt, cancelReason: o.cancelReason || null, confirmed: true, edited: false, taxExempt: false, dutiesIncluded: false, estimatedTaxes: false,
      currencyCode: cur(), presentmentCurrencyCode: cur(), taxesIncluded: !!o.taxesIncluded,
      displayFinancialStatus: () => financialStatus(o), displayFulfillmentStatus: () => fulfillmentStatus(o),
      fullyPaid: () => T().received >= T().total, unpaid: () => T().received === 0,
      customer: () => customerView(c),
      billingAddress: addressView(o.billingAddress), shippingAddress: addressView(o.shippingAddress), displayAddress: addressView(o.billingAddress || o.shippingAddress),
      billingAddressMatchesShippingAddress: JSON.stringify(o.billingAddress) === JSON.stringify(o.shippingAddress),
      subtotalLineItemsQuantity: () => orderLineItems(o).reduce((s, li) => s + li.quantity, 0),
      currentSubtotalLineItemsQuantity: () => orderLineItems(o).reduce((s, li) => s + li.quantity - li.refundedQty, 0),
      subtotalPrice: () => fmt(T().subtotal), subtotalPriceSet: () => bag(T().subtotal), currentSubtotalPriceSet: () => bag(T().subtotal - T().refundedGoods),
      totalDiscounts: () => fmt(T().discounts), totalDiscountsSet: () => bag(T().discounts), currentTotalDiscountsSet: () => bag(T().discounts),
      cartDiscountAmountSet: () => bag(0), currentCartDiscountAmountSet: () => bag(0),
      totalShippingPrice: () => fmt(T().shipping), totalShippingPriceSet: () => bag(T().shipping), currentShippingPriceSet: () => bag(T().shipping),
      totalTax: () => fmt(T().tax), totalTaxSet: () => bag(T().tax), currentTotalTaxSet: () => bag(T().tax),
      totalPrice: () => fmt(T().total), totalPriceSet: () => bag(T().total), originalTotalPriceSet: () => bag(T().total),
      currentTotalPriceSet: () => bag(T().total - T().refundedGoods),
      totalRefunded: () => fmt(T().refunded), totalRefundedSet: () => bag(T().refunded),
      totalRefundedShippingSet: () => bag(o.refundIds.map((id) => st.get('Refund', id)).reduce((s, r) => s + r.shippingLines.reduce((a, x) => a + x.subtotalCents, 0), 0)),
      totalReceived: () => fmt(T().received), totalReceivedSet: () => bag(T().received),
      totalOutstandingSet: () => bag(Math.max(0, T().total - T().received)), netPayment: () => fmt(T().received - T().refunded), netPaymentSet: () => bag(T().received - T().refunded),
      totalCapturable: fmt(0), totalCapturableSet: bag(0), totalTipReceived: money(0), totalTipReceivedSet: bag(0), totalWeight: '0', currentTotalWeight: '0',
      refundDiscrepancySet: bag(0), refundable: true, restockable: true, requiresShipping: true, fulfillable: () => fulfillmentStatus(o) !== 'FULFILLED',
      paymentGatewayNames: () => [...new Set(o.transactions.map((t) => t.gateway).filter(Boolean))],
      discountCode: o.discountCodes[0] || null, discountCodes: o.discountCodes,
      taxLines: () => aggregateTaxLines(o).map(taxLineView), currentTaxLines: () => aggregateTaxLines(o).map(taxLineView),
      discountApplications: (a) => conn(o.discountApplications.map(discountApplicationView), a, (x) => [x.index]),
      lineItems: (a) => conn(orderLineItems(o).map(lineItemView), a, (x) => [Number(numOf(x.id))]),
      shippingLines: (a) => conn(o.shippingLines.map(shippingLineView), a, (x) => [Number(numOf(x.id))]),
      shippingLine: () => (o.shippingLines[0] ? shippingLineView(o.shippingLines[0]) : null),
      fulfillmentOrders: (a) => conn(o.fulfillmentOrderIds.map((id) => foView(st.get('FulfillmentOrder', id))), a, (x) => [Number(numOf(x.id))]),
      fulfillments: (a) => take(o.fulfillmentIds.map((id) => fulfillmentView(st.get('Fulfillment', id))), a),
      fulfillmentsCount: () => ({ __typename: 'Count', count: o.fulfillmentIds.length, precision: 'EXACT' }),
      refunds: (a) => take(o.refundIds.map((id) => refundView(st.get('Refund', id))), a),
      transactions: (a) => take(o.transactions.map(transactionView), a),
      transactionsCount: () => ({ __typename: 'Count', count: o.transactions.length, precision: 'EXACT' }),
      returnStatus: 'NO_RETURN', customAttributes: [], alerts: [], disputes: [], additionalFees: [], merchantEditableErrors: [], merchantEditable: true,
      canMarkAsPaid: () => financialStatus(o) === 'PENDING', canNotifyCustomer: false, capturable: false, customerAcceptsMarketing: false,
      hasTimelineComment: false, productNetwork: false, riskLevel: 'LOW',
    }, metafieldsApi(o, 'ORDER'));
  }

  // ---------- bulk
  function bulkView(b) {
    if (!b) return null;
    return {
      __typename: 'BulkOperation', id: b.id, status: b.status, type: b.type, errorCode: b.errorCode || null, query: b.query,
      createdAt: iso(b.createdAt), completedAt: iso(b.completedAt), objectCount: String(b.objectCount), rootObjectCount: String(b.rootObjectCount),
      fileSize: b.fileSize == null ? null : String(b.fileSize), url: b.status === 'COMPLETED' ? b.url : null, partialDataUrl: b.partialDataUrl || null,
    };
  }

  function shopView() {
    return {
      __typename: 'Shop', id: gid('Shop', 1), name: st.shop.name, currencyCode: cur(), myshopifyDomain: st.shop.myshopifyDomain,
      email: 'owner@example.com', contactEmail: 'owner@example.com', ianaTimezone: 'Pacific/Auckland', timezoneAbbreviation: 'NZDT',
      enabledPresentmentCurrencies: [cur()], taxesIncluded: true, url: `https://${st.shop.myshopifyDomain}`,
      plan: { __typename: 'ShopPlan', displayName: 'Shopify', partnerDevelopment: false, shopifyPlus: false, publicDisplayName: 'Shopify' },
      metafield: () => null, metafields: (a) => conn([], a),
    };
  }

  function nodeView(id) {
    const p = parseGid(id);
    if (!p) return null;
    switch (p.type) {
      case 'Product': return productView(st.get('Product', id));
      case 'ProductVariant': return variantView(st.get('ProductVariant', id));
      case 'InventoryItem': return inventoryItemView(st.get('InventoryItem', id));
      case 'InventoryLevel': return levelView(st.getLevelById(id));
      case 'Location': return locationView(st.get('Location', id));
      case 'Customer': return customerView(st.get('Customer', id));
      case 'Order': return orderView(st.get('Order', id));
      case 'FulfillmentOrder': return foView(st.get('FulfillmentOrder', id));
      case 'Fulfillment': return fulfillmentView(st.get('Fulfillment', id));
      case 'Refund': return refundView(st.get('Refund', id));
      case 'LineItem': return lineItemView(st.get('LineItem', id));
      case 'BulkOperation': return bulkView(st.get('BulkOperation', id));
      case 'InventoryAdjustmentGroup': return adjustmentGroupView(st.get('InventoryAdjustmentGroup', id));
      default: return null;
    }
  }

  return {
    iso, money, bag, conn, productView, variantView, variantTitle, variantAvailable, inventoryItemView, levelView, qty, adjustmentGroupView,
    locationView, customerView, addressView, orderView, lineItemView, foView, fulfillmentView, refundView, transactionView, shippingLineView,
    bulkView, shopView, nodeView, metafieldView, orderTotals, lineTotals, financialStatus, fulfillmentStatus, orderLineItems, aggregateTaxLines,
  };
}

module.exports = { makeViews, iso };
