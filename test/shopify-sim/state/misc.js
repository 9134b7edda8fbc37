'use strict';
// Publications (publishablePublish / publishableUnpublish) and webhook subscriptions over GraphQL.
const { userError, parseGid, gid, connection, requireFirstOrLast } = require('../util');
const { iso } = require('./views');

const PUBLICATIONS = [{ num: 1, name: 'Online Store' }, { num: 2, name: 'Point of Sale' }];

function miscResolvers(sim) {
  const S = () => sim.store;
  const V = () => sim.views;
  const pubView = (p) => ({ __typename: 'Publication', id: gid('Publication', p.num), name: p.name, autoPublish: false, supportsFuturePublishing: false,
    legacyResourceId: String(p.num) });
  const findPub = (input) => PUBLICATIONS.find((p) => gid('Publication', p.num) === input.publicationId || gid('Channel', p.num) === input.channelId);

  function toggle(args, ctx, on) {
    const p = S().get('Product', args.id);
    const out = { publishable: null, shop: V().shopView(), userErrors: [] };
    if (!p) { out.userErrors.push(userError(['id'], 'Resource does not exist')); return out; }
    const pubs = [];
    for (const [i, inp] of args.input.entries()) {
      const pub = findPub(inp);
      if (!pub) { out.userErrors.push(userError(['input', String(i), 'publicationId'], 'Publication does not exist')); return out; }
      pubs.push(pub.num);
    }
    if (on && p.status !== 'ACTIVE') { out.userErrors.push(userError(['id'], 'Product must be active to be published')); return out; }
    p.publications = p.publications || [];
    for (const n of pubs) {
      if (on && !p.publications.includes(n)) p.publications.push(n);
      if (!on) p.publications = p.publications.filter((x) => x !== n);
    }
    p.updatedAt = S().nowMs();
    ctx.sim.counters.mutationsApplied++;
    out.publishable = V().productView(p);
    return out;
  }

  const TOPIC = (t) => t.toLowerCase().replace('_', '/');
  function subView(s) {
    return { __typename: 'WebhookSubscription', id: s.id, legacyResourceId: String(parseGid(s.id).num), topic: s.topic, uri: s.uri, callbackUrl: s.uri,
      format: s.format || 'JSON', filter: s.filter || null, includeFields: s.includeFields || [], metafieldNamespaces: [], metafields: [], name: s.name || null,
      apiVersion: { __typename: 'ApiVersion', handle: '2026-10', displayName: '2026-10', supported: true },
      endpoint: { __typename: 'WebhookHttpEndpoint', callbackUrl: s.uri }, createdAt: iso(s.createdAt), updatedAt: iso(s.createdAt) };
  }

  return {
    Query: {
      publications: (a) => { requireFirstOrLast(a); return connection(PUBLICATIONS.map(pubView), a, (x) => [Number(x.legacyResourceId)]); },
      publication: (a) => { const p = PUBLICATIONS.find((x) => gid('Publication', x.num) === a.id); return p ? pubView(p) : null; },
      webhookSubscriptions: (a) => {
        requireFirstOrLast(a);
        let list = sim.webhooks.subscriptions;
        if (a.topics) list = list.filter((s) => a.topics.includes(s.topic));
        return connection(list.map(subView), a, (x) => [Number(x.legacyResourceId)]);
      },
      webhookSubscription: (a) => { const s = sim.webhooks.subscriptions.find((x) => x.id === a.id); return s ? subView(s) : null; },
    },
    Mutation: {
      publishablePublish: (a, ctx) => toggle(a, ctx, true),
      publishableUnpublish: (a, ctx) => toggle(a, ctx, false),
      webhookSubscriptionCreate(args, ctx) {
        const inp = args.webhookSubscription;
        const uri = inp.uri || inp.callbackUrl;
        if (!uri || !/^https?:\/\//.test(uri)) return { webhookSubscription: null, userErrors: [userError(['webhookSubscription', 'uri'], 'Address is invalid')] };
        if (sim.webhooks.subscriptions.some((s) => s.topic === args.topic && s.uri === uri)) {
          return { webhookSubscription: null, userErrors: [userError(['webhookSubscription', 'callbackUrl'], 'Address for this topic has already been taken')] };
        }
        const s = { id: S().newId('WebhookSubscription'), topic: args.topic, path: TOPIC(args.topic), uri, format: inp.format, filter: inp.filter, includeFields: inp.includeFields, name: inp.name, createdAt: S().nowMs() };
        sim.webhooks.subscriptions.push(s);
        ctx.sim.counters.mutationsApplied++;
        return { webhookSubscription: subView(s), userErrors: [] };
      },
      webhookSubscriptionDelete(args, ctx) {
        const i = sim.webhooks.subscriptions.findIndex((x) => x.id === args.id);
        if (i < 0) return { deletedWebhookSubscriptionId: null, userErrors: [userError(['id'], 'Webhook subscription does not exist')] };
        sim.webhooks.subscriptions.splice(i, 1);
        ctx.sim.counters.mutationsApplied++;
        return { deletedWebhookSubscriptionId: args.id, userErrors: [] };
      },
    },
  };
}

module.exports = { miscResolvers };
