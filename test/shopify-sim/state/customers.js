'use strict';
// customerSet (upsert by id / email / phone / customId; TAKEN on conflicts) and customer queries.
const { userError, parseGid } = require('../util');
const { filterByQuery, strMatch, timeMatch, numMatch } = require('./search');
const { APP_NS } = require('./metafields');

function customerResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;
  const normEmail = (e) => (e == null ? null : String(e).trim().toLowerCase());
  const normPhone = (p) => (p == null ? null : String(p).replace(/[\s()-]/g, ''));
  const byEmail = (e) => { const n = normEmail(e); for (const c of S().customers.values()) if (c.email && normEmail(c.email) === n) return c; return null; };
  const byPhone = (p) => { const n = normPhone(p); for (const c of S().customers.values()) if (c.phone && normPhone(c.phone) === n) return c; return null; };
  const byCustomId = (cid) => { const ns = cid.namespace == null ? APP_NS : cid.namespace; for (const c of S().customers.values()) if (c.metafields.some((m) => m.namespace === ns && m.key === cid.key && m.value === cid.value)) return c; return null; };

  function newCustomer() {
    const st = S(); const ts = st.nowMs();
    return { id: st.newId('Customer'), email: null, phone: null, firstName: null, lastName: null, locale: 'en', note: null, tags: [],
      taxExempt: false, taxExemptions: [], addresses: [], metafields: [], createdAt: ts, updatedAt: ts };
  }

  function mkAddress(a) {
    const st = S();
    return { id: st.newId('MailingAddress'), address1: a.address1 ?? null, address2: a.address2 ?? null, city: a.city ?? null, company: a.company ?? null,
      countryCode: a.countryCode ?? null, country: a.country ?? (a.countryCode ? (require('./store').COUNTRY_NAMES[a.countryCode] || a.countryCode) : null),
      provinceCode: a.provinceCode ?? null, province: a.province ?? a.provinceCode ?? null, zip: a.zip ?? null, firstName: a.firstName ?? null,
      lastName: a.lastName ?? null, phone: a.phone ?? null };
  }

  // shared with orderCreate's customer.toUpsert
  function applyCustomer(c, input) {
    for (const k of ['firstName', 'lastName', 'locale', 'note', 'tags', 'taxExempt', 'taxExemptions']) if (input[k] !== undefined) c[k] = input[k];
    if (input.email !== undefined) c.email = input.email;
    if (input.phone !== undefined) c.phone = input.phone;
    if (input.addresses) c.addresses = input.addresses.map(mkAddress);
    c.updatedAt = S().nowMs();
  }

  function customerSet(args, ctx) {
    const st = S();
    const ident = args.identifier; const input = args.input;
    const out = (e) => ({ customer: null, userErrors: e });
    if (ident && input.id != null) return out([userError(['input', 'id'], 'The id field is not allowed if identifier is provided.', 'ID_NOT_ALLOWED')]);
    let c = null;
    let cid = null;
    if (ident) {
      if (ident.id != null) { c = st.get('Customer', ident.id); if (!c) return out([userError(['identifier', 'id'], 'Customer does not exist', 'NOT_FOUND')]); }
      else if (ident.email != null) {
        if (input.email != null && normEmail(input.email) !== normEmail(ident.email)) return out([userError(['input', 'email'], 'The input field corresponding to the identifier must match the identifier value.', 'INPUT_MISMATCH')]);
        c = byEmail(ident.email);
        if (!c && input.email === undefined) input.email = ident.email;
      } else if (ident.phone != null) {
        if (input.phone != null && normPhone(input.phone) !== normPhone(ident.phone)) return out([userError(['input', 'phone'], 'The input field corresponding to the identifier must match the identifier value.', 'INPUT_MISMATCH')]);
        c = byPhone(ident.phone);
        if (!c && input.phone === undefined) input.phone = ident.phone;
      } else if (ident.customId != null) { cid = ident.customId; c = byCustomId(cid); }
    } else if (input.id != null) {
      c = st.get('Customer', input.id);
      if (!c) return out([userError(['input', 'id'], 'Customer does not exist', 'NOT_FOUND')]);
    }
    const errs = [];
    const email = input.email !== undefined ? input.email : (c ? c.email : null);
    const phone = input.phone !== undefined ? input.phone : (c ? c.phone : null);
    if (input.email != null && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(input.email)) errs.push(userError(['input', 'email'], 'Email is invalid', 'INVALID'));
    if (input.phone != null && !/^\+?[0-9][0-9 ()-]{4,}$/.test(input.phone)) errs.push(userError(['input', 'phone'], 'Phone is invalid', 'INVALID'));
    if (input.email != null) { const o = byEmail(input.email); if (o && o !== c) errs.push(userError(['input', 'email'], 'Email has already been taken', 'TAKEN')); }
    if (input.phone != null) { const o = byPhone(input.phone); if (o && o !== c) errs.push(userError(['input', 'phone'], 'Phone has already been taken', 'TAKEN')); }
    const first = input.firstName !== undefined ? input.firstName : (c ? c.firstName : null);
    const last = input.lastName !== undefined ? input.lastName : (c ? c.lastName : null);
    if (!email && !phone && !first && !last) errs.push(userError(['input'], 'A name, phone number, or email address must be present', 'BLANK'));
    if (errs.length) return out(errs);
    const creating = !c;
    if (creating) { c = newCustomer(); st.customers.set(parseGid(c.id).num, c); }
    applyCustomer(c, input);
    if (creating && cid) sim.metafields.upsert(c, { namespace: cid.namespace, key: cid.key, type: 'id', value: cid.value });
    ctx.sim.counters.mutationsApplied++;
    return { customer: V().customerView(c), userErrors: [] };
  }

  const filters = {
    email: (c, t) => strMatch(c.email, t), phone: (c, t) => c.phone != null && normPhone(c.phone) === normPhone(t.value),
    first_name: (c, t) => strMatch(c.firstName, t), last_name: (c, t) => strMatch(c.lastName, t),
    updated_at: (c, t) => timeMatch(c.updatedAt, t), created_at: (c, t) => timeMatch(c.createdAt, t), id: (c, t) => numMatch(parseGid(c.id).num, t),
    tag: (c, t) => (c.tags || []).some((x) => strMatch(x, t)),
  };

  return {
    byEmail, byPhone, newCustomer, applyCustomer, mkAddress,
    Query: {
      customer: (a) => V().customerView(S().get('Customer', a.id)),
      customers: (a) => {
        const list = filterByQuery([...S().customers.values()], a.query, filters, (c, txt) => [c.email, c.phone, c.firstName, c.lastName].some((x) => x && String(x).toLowerCase().includes(txt.toLowerCase())));
        return V().conn(list.map(V().customerView), a);
      },
      customerByIdentifier: (a) => {
        const i = a.identifier;
        if (i.id != null) return V().customerView(S().get('Customer', i.id));
        if (i.emailAddress != null) return V().customerView(byEmail(i.emailAddress));
        if (i.phoneNumber != null) return V().customerView(byPhone(i.phoneNumber));
        if (i.customId != null) return V().customerView(byCustomId(i.customId));
        return null;
      },
    },
    Mutation: { customerSet },
  };
}

module.exports = { customerResolvers };
