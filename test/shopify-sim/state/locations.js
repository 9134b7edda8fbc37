'use strict';
// locationAdd / locationEdit / locationActivate / locationDeactivate and location queries.
const { userError, parseGid } = require('../util');
const { COUNTRY_NAMES } = require('./store');
const { filterByQuery, strMatch } = require('./search');

function locationResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;
  const nameTaken = (name, self) => S().activeLocations().some((l) => l !== self && l.name.toLowerCase() === String(name).toLowerCase());

  function locationAdd(args, ctx) {
    const input = args.input;
    if (!input.name || !input.name.trim()) return { location: null, userErrors: [userError(['input', 'name'], 'Add a location name', 'BLANK')] };
    if (nameTaken(input.name)) return { location: null, userErrors: [userError(['input', 'name'], 'You already have a location with this name', 'TAKEN')] };
    if (input.name.length > 100) return { location: null, userErrors: [userError(['input', 'name'], 'Name is too long', 'TOO_LONG')] };
    if (input.address.countryCode === 'US' && input.address.zip && !/^\d{5}(-\d{4})?$/.test(input.address.zip)) {
      return { location: null, userErrors: [userError(['input', 'address', 'zip'], 'Enter a valid ZIP code', 'INVALID_US_ZIPCODE')] };
    }
    if (input.metafields) {
      const e = sim.metafields.checkInputs(null, input.metafields, ['input', 'metafields'], (c) => c, 'Location');
      if (e.length) return { location: null, userErrors: e };
    }
    const loc = S().addLocation(input);
    for (const mf of input.metafields || []) sim.metafields.upsert(loc, mf);
    ctx.sim.counters.mutationsApplied++;
    return { location: V().locationView(loc), userErrors: [] };
  }

  function locationEdit(args, ctx) {
    const st = S();
    const loc = st.get('Location', args.id);
    const input = args.input;
    if (!loc) return { location: null, userErrors: [userError(['id'], 'Location not found.', 'NOT_FOUND')] };
    if (input.name != null) {
      if (!input.name.trim()) return { location: null, userErrors: [userError(['input', 'name'], 'Add a location name', 'BLANK')] };
      if (loc.isActive && nameTaken(input.name, loc)) return { location: null, userErrors: [userError(['input', 'name'], 'You already have a location with this name', 'TAKEN')] };
    }
    if (input.fulfillsOnlineOrders === false && loc.fulfillsOnlineOrders && loc.isActive
      && !st.activeLocations().some((l) => l !== loc && l.fulfillsOnlineOrders)) {
      return { location: null, userErrors: [userError(['input', 'fulfillsOnlineOrders'], 'At least one location must fulfill online orders.', 'CANNOT_DISABLE_ONLINE_ORDER_FULFILLMENT')] };
    }
    if (input.metafields) {
      const e = sim.metafields.checkInputs(loc, input.metafields, ['input', 'metafields'], (c) => c);
      if (e.length) return { location: null, userErrors: e };
    }
    if (input.name != null) loc.name = input.name;
    if (input.fulfillsOnlineOrders != null) loc.fulfillsOnlineOrders = input.fulfillsOnlineOrders;
    if (input.address) {
      for (const k of ['address1', 'address2', 'city', 'provinceCode', 'zip', 'phone', 'countryCode']) if (input.address[k] !== undefined) loc.address[k] = input.address[k];
      if (input.address.provinceCode !== undefined) loc.address.province = input.address.provinceCode;
      if (input.address.countryCode) loc.address.country = COUNTRY_NAMES[input.address.countryCode] || input.address.countryCode;
    }
    for (const mf of input.metafields || []) sim.metafields.upsert(loc, mf);
    loc.updatedAt = st.nowMs();
    ctx.sim.counters.mutationsApplied++;
    return { location: V().locationView(loc), userErrors: [] };
  }

  function locationActivate(args, ctx) {
    const st = S();
    const loc = st.get('Location', args.locationId);
    if (!loc) return { location: null, locationActivateUserErrors: [userError(['locationId'], 'Location not found.', 'LOCATION_NOT_FOUND')] };
    if (!loc.isActive) {
      if (nameTaken(loc.name, loc)) return { location: null, locationActivateUserErrors: [userError(['locationId'], 'Location name is already used by an active location.', 'HAS_NON_UNIQUE_NAME')] };
      loc.isActive = true; loc.deactivatedAt = null; loc.updatedAt = st.nowMs();
      ctx.sim.counters.mutationsApplied++;
    }
    return { location: V().locationView(loc), locationActivateUserErrors: [] };
  }

  function locationDeactivate(args, ctx) {
    const st = S();
    const loc = st.get('Location', args.locationId);
    const err = (f, m, c) => ({ location: null, locationDeactivateUserErrors: [userError(f, m, c)] });
    if (!loc) return err(['locationId'], 'Location not found.', 'LOCATION_NOT_FOUND');
    if (!loc.isActive) return { location: V().locationView(loc), locationDeactivateUserErrors: [] };
    let dest = null;
    if (args.destinationLocationId != null) {
      if (args.destinationLocationId === loc.id) return err(['destinationLocationId'], 'Destination location is the same as the location to be deactivated.', 'DESTINATION_LOCATION_IS_THE_SAME_LOCATION');
      dest = st.get('Location', args.destinationLocationId);
      if (!dest || !dest.isActive) return err(['destinationLocationId'], 'Destination location not found or inactive.', 'DESTINATION_LOCATION_NOT_FOUND_OR_INACTIVE');
    }
    if (loc.fulfillsOnlineOrders && !st.activeLocations().some((l) => l !== loc && l.fulfillsOnlineOrders)) {
      return err(['locationId'], 'At least one location must fulfill online orders.', 'CANNOT_DISABLE_ONLINE_ORDER_FULFILLMENT');
    }
    if ([...st.fulfillmentOrders.values()].some((fo) => fo.locationId === loc.id && fo.status !== 'CLOSED')) {
      return err(['locationId'], 'Location has unfulfilled orders.', 'HAS_FULFILLMENT_ORDERS_ERROR');
    }
    const levels = st.levelsAtLocation(loc.id);
    const hasStock = levels.some((l) => l.on_hand !== 0 || l.committed !== 0);
    if (hasStock && !dest) return err(['locationId'], 'Location has inventory. Provide a destination location to move it to.', 'HAS_ACTIVE_INVENTORY_ERROR');
    const ts = st.nowMs();
    for (const l of levels) {
      if (dest) { const d = st.activateLevel(l.inventoryItemId, dest.id); d.on_hand += l.on_hand; d.updatedAt = ts; }
      st.deleteLevel(l);
    }
    loc.isActive = false; loc.deactivatedAt = ts; loc.updatedAt = ts;
    ctx.sim.counters.mutationsApplied++;
    return { location: V().locationView(loc), locationDeactivateUserErrors: [] };
  }

  return {
    Query: {
      location: (a) => (a.id == null ? V().locationView([...S().locations.values()][0]) : V().locationView(S().get('Location', a.id))),
      locations: (a) => {
        let list = [...S().locations.values()];
        if (!a.includeInactive) list = list.filter((l) => l.isActive);
        list = filterByQuery(list, a.query, { name: (l, t) => strMatch(l.name, t), active: (l, t) => String(l.isActive) === t.value, id: (l, t) => String(parseGid(l.id).num) === t.value },
          (l, txt) => l.name.toLowerCase().includes(txt.toLowerCase()));
        const key = a.sortKey === 'ID' ? (l) => [parseGid(l.id).num] : (l) => [l.name.toLowerCase(), parseGid(l.id).num];
        list.sort((x, y) => { const p = key(x); const q = key(y); return p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : (p[1] || 0) - (q[1] || 0); });
        return V().conn(list.map((l) => Object.assign(V().locationView(l), { __raw: l })), a, (x) => key(x.__raw));
      },
      locationByIdentifier: (a) => {
        const i = a.identifier;
        if (i.id != null) return V().locationView(S().get('Location', i.id));
        if (i.customId) { const ns = i.customId.namespace == null ? '$app' : i.customId.namespace; for (const l of S().locations.values()) if (l.metafields.some((m) => m.namespace === ns && m.key === i.customId.key && m.value === i.customId.value)) return V().locationView(l); }
        return null;
      },
    },
    Mutation: { locationAdd, locationEdit, locationActivate, locationDeactivate },
  };
}

module.exports = { locationResolvers };
