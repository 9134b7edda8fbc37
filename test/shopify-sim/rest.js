'use strict';
// REST-shaped order / refund JSON (the body of orders/* and refunds/create webhooks).
const { parseGid, fmt } = require('./util');
const { iso } = require('./state/views');

function restViews(sim) {
  const st = () => sim.store;
  const V = () => sim.views;
  const num = (id) => (id ? parseGid(id).num : null);
  const cur = () => st().shop.currencyCode;
  const set = (c) => ({ shop_money: { amount: fmt(c), currency_code: cur() }, presentment_money: { amount: fmt(c), currency_code: cur() } });

  function address(a, customerId) {
    if (!a) return null;
    const out = { first_name: a.firstName, last_name: a.lastName, name: [a.firstName, a.lastName].filter(Boolean).join(' ') || null, company: a.company,
      address1: a.address1, address2: a.address2, city: a.city, zip: a.zip, province: a.province, province_code: a.provinceCode, country: a.country,
      country_code: a.countryCode, phone: a.phone, latitude: null, longitude: null };
    if (customerId !== undefined) Object.assign(out, { id: num(a.id), customer_id: customerId, country_name: a.country, default: true });
    return out;
  }

  function customer(c) {
    if (!c) return null;
    return { id: num(c.id), admin_graphql_api_id: c.id, email: c.email, phone: c.phone, first_name: c.firstName, last_name: c.lastName,
      created_at: iso(c.createdAt), updated_at: iso(c.updatedAt), state: 'disabled', note: c.note, verified_email: !!c.email, multipass_identifier: null,
      tax_exempt: !!c.taxExempt, tax_exemptions: [], tags: (c.tags || []).join(', '), currency: cur(),
      email_marketing_consent: null, sms_marketing_consent: null, default_address: c.addresses.length ? address(c.addresses[0], num(c.id)) : null };
  }

  function taxLine(t) { return { title: t.title, price: fmt(t.priceCents), price_set: set(t.priceCents), rate: t.rate, channel_liable: !!t.channelLiable }; }

  function lineItem(li, o) {
    const t = V().lineTotals(li);
    const fos = o.fulfillmentOrderIds.map((id) => st().get('FulfillmentOrder', id));
    const unfulfilled = fos.reduce((s, fo) => s + fo.lineItems.filter((x) => x.lineItemId === li.id).reduce((a, x) => a + x.remainingQuantity, 0), 0);
    const v = li.variantId ? st().get('ProductVariant', li.variantId) : null;
    return {
      id: num(li.id), admin_graphql_api_id: li.id, variant_id: num(li.variantId), product_id: num(li.productId), product_exists: !!li.productId,
      sku: li.sku, title: li.title, variant_title: li.variantTitle, name: li.name, vendor: li.vendor, quantity: li.quantity,
      current_quantity: li.quantity - li.refundedQty, price: fmt(li.priceCents), price_set: set(li.priceCents),
      total_discount: fmt(t.disc), total_discount_set: set(t.disc),
      discount_allocations: li.discountAllocations.map((d) => ({ amount: fmt(d.amountCents), amount_set: set(d.amountCents), discount_application_index: d.index })),
      tax_lines: li.taxLines.map(taxLine), taxable: li.taxable, gift_card: !!li.giftCard, requires_shipping: li.requiresShipping, grams: 0,
      fulfillable_quantity: unfulfilled, fulfillment_service: 'manual',
      fulfillment_status: li.fulfilledQty === 0 ? null : (unfulfilled === 0 ? 'fulfilled' : 'partial'),
      variant_inventory_management: v ? 'shopify' : null, properties: [], duties: [], attributed_staffs: [],
    };
  }

  function transaction(t, o) {
    return { id: num(t.id), admin_graphql_api_id: t.id, order_id: num(o.id), kind: t.kind.toLowerCase(), status: t.status.toLowerCase(), gateway: t.gateway,
      amount: fmt(t.amountCents), currency: cur(), created_at: iso(t.createdAt), processed_at: iso(t.processedAt), parent_id: num(t.parentId), test: !!t.test };
  }

  function refund(r) {
    const o = st().get('Order', r.orderId);
    return {
      id: num(r.id), admin_graphql_api_id: r.id, order_id: num(o.id), created_at: iso(r.createdAt), processed_at: iso(r.processedAt), note: r.note,
      restock: r.lineItems.some((x) => x.restocked), user_id: null, duties: [], additional_fees: [], total_duties_set: set(0), total_additional_fees_set: set(0),
      refund_line_items: r.lineItems.map((x) => ({ id: num(x.id), line_item_id: num(x.lineItemId), location_id: num(x.locationId), quantity: x.quantity,
        restock_type: x.restockType.toLowerCase(), subtotal: fmt(x.subtotalCents), subtotal_set: set(x.subtotalCents), total_tax: fmt(x.taxCents), total_tax_set: set(x.taxCents),
        line_item: lineItem(st().get('LineItem', x.lineItemId), o) })),
      refund_shipping_lines: r.shippingLines.map((x) => ({ id: num(x.id), shipping_line_id: num(x.shippingLineId), subtotal_amount_set: set(x.subtotalCents), tax_amount_set: set(x.taxCents) })),
      transactions: r.transactions.map((t) => transaction(t, o)), order_adjustments: [], return: null,
    };
  }

  function order(o) {
    const T = V().orderTotals(o);
    const lis = V().orderLineItems(o);
    const c = o.customerId ? st().get('Customer', o.customerId) : null;
    const fs = V().fulfillmentStatus(o);
    return {
      id: num(o.id), admin_graphql_api_id: o.id, name: o.name, number: o.number - 1000, order_number: o.number, email: o.email, contact_email: o.email, phone: o.phone,
      currency: cur(), presentment_currency: cur(), taxes_included: !!o.taxesIncluded, test: !!o.test, source_name: o.sourceName, note: o.note, tags: (o.tags || []).join(', '),
      total_price: fmt(T.total), total_price_set: set(T.total), subtotal_price: fmt(T.subtotal), subtotal_price_set: set(T.subtotal),
      total_line_items_price: fmt(T.subtotalGross), total_line_items_price_set: set(T.subtotalGross),
      total_tax: fmt(T.tax), total_tax_set: set(T.tax), total_discounts: fmt(T.discounts), total_discounts_set: set(T.discounts),
      total_shipping_price_set: set(T.shipping), current_total_price: fmt(T.total - T.refundedGoods), current_total_price_set: set(T.total - T.refundedGoods),
      current_subtotal_price: fmt(T.subtotal - T.refundedGoods), current_total_tax: fmt(T.tax), current_total_discounts: fmt(T.discounts),
      total_outstanding: fmt(Math.max(0, T.total - T.received)), total_tip_received: '0.00', total_weight: 0,
      financial_status: V().financialStatus(o).toLowerCase(),
      fulfillment_status: fs === 'FULFILLED' ? 'fulfilled' : fs === 'PARTIALLY_FULFILLED' ? 'partial' : fs === 'RESTOCKED' ? 'restocked' : null,
      created_at: iso(o.createdAt), updated_at: iso(o.updatedAt), processed_at: iso(o.processedAt), cancelled_at: iso(o.cancelledAt), closed_at: iso(o.closedAt),
      cancel_reason: o.cancelReason ? o.cancelReason.toLowerCase() : null, confirmed: true, buyer_accepts_marketing: false,
      customer: customer(c), billing_address: address(o.billingAddress), shipping_address: address(o.shippingAddress),
      discount_codes: o.discountApplications.filter((d) => d.code).map((d) => ({ code: d.code, amount: fmt(lis.reduce((s, li) => s + li.discountAllocations.filter((x) => x.index === d.index).reduce((a, x) => a + x.amountCents, 0), 0)), type: d.value.type === 'percent' ? 'percentage' : 'fixed_amount' })),
      discount_applications: o.discountApplications.map((d) => ({ type: 'discount_code', code: d.code, title: d.code, value: d.value.type === 'percent' ? String(d.value.percentage) : fmt(d.value.amountCents),
        value_type: d.value.type === 'percent' ? 'percentage' : 'fixed_amount', allocation_method: d.allocationMethod.toLowerCase(), target_selection: d.targetSelection.toLowerCase(), target_type: d.targetType.toLowerCase() })),
      tax_lines: V().aggregateTaxLines(o).map(taxLine),
      line_items: lis.map((li) => lineItem(li, o)),
      shipping_lines: o.shippingLines.map((s) => ({ id: num(s.id), title: s.title, code: s.code, source: s.source, price: fmt(s.priceCents), price_set: set(s.priceCents),
        discounted_price: fmt(s.priceCents - s.discountCents), discounted_price_set: set(s.priceCents - s.discountCents), tax_lines: s.taxLines.map(taxLine),
        discount_allocations: [], carrier_identifier: null, is_removed: false, phone: null, requested_fulfillment_service_id: null })),
      fulfillments: o.fulfillmentIds.map((id) => {
        const f = st().get('Fulfillment', id);
        return { id: num(f.id), admin_graphql_api_id: f.id, order_id: num(o.id), location_id: num(f.locationId), name: f.name, status: 'success', service: 'manual',
          created_at: iso(f.createdAt), updated_at: iso(f.updatedAt), shipment_status: null, origin_address: null, receipt: {},
          tracking_company: f.tracking ? f.tracking.company : null, tracking_number: f.tracking ? f.tracking.number : null, tracking_numbers: f.tracking && f.tracking.number ? [f.tracking.number] : [],
          tracking_url: null, tracking_urls: [],
          line_items: f.lineItems.map((x) => Object.assign(lineItem(st().get('LineItem', x.lineItemId), o), { quantity: x.quantity })) };
      }),
      refunds: o.refundIds.map((id) => refund(st().get('Refund', id))),
      payment_gateway_names: [...new Set(o.transactions.map((t) => t.gateway).filter(Boolean))],
      transactions: o.transactions.map((t) => transaction(t, o)),
    };
  }

  return { order, refund, customer };
}

module.exports = { restViews };
