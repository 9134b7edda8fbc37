'use strict';
// Optional webhook delivery (orders/*, refunds/create, bulk_operations/finish) with Shopify's headers + HMAC.
const crypto = require('node:crypto');
const http = require('node:http');

class Webhooks {
  constructor(sim) { this.sim = sim; this.cfg = null; this.delivered = []; this.subscriptions = []; }
  configure(cfg) { this.cfg = cfg && cfg.url ? { url: cfg.url, secret: cfg.secret || '', topics: cfg.topics || null } : null; }
  // targets: the /_sim/webhooks target (its own secret) + GraphQL subscriptions (signed with the app's client secret)
  emit(topic, obj) {
    const targets = [];
    if (this.cfg && (!this.cfg.topics || this.cfg.topics.includes(topic))) targets.push({ url: this.cfg.url, secret: this.cfg.secret });
    for (const s of this.subscriptions) if (s.path === topic) targets.push({ url: s.uri, secret: this.sim.clientSecret });
    if (!targets.length) return;
    for (const tg of targets) this.deliver(topic, obj, tg);
  }
  deliver(topic, obj, target) {
    const rest = this.sim.rest;
    let payload;
    if (topic.startsWith('orders/')) payload = rest.order(obj);
    else if (topic === 'refunds/create') payload = rest.refund(obj);
    else if (topic === 'bulk_operations/finish') payload = { admin_graphql_api_id: obj.id, completed_at: new Date().toISOString(), created_at: new Date(obj.createdAt).toISOString(), error_code: null, status: obj.status.toLowerCase(), type: 'mutation' };
    else return;
    const body = Buffer.from(JSON.stringify(payload));
    const hmac = crypto.createHmac('sha256', target.secret).update(body).digest('base64');
    const u = new URL(target.url);
    const headers = {
      'Content-Type': 'application/json', 'Content-Length': body.length, 'X-Shopify-Topic': topic, 'X-Shopify-Hmac-Sha256': hmac,
      'X-Shopify-Shop-Domain': this.sim.store.shop.myshopifyDomain, 'X-Shopify-API-Version': '2026-10', 'X-Shopify-Webhook-Id': crypto.randomUUID(),
      'X-Shopify-Event-Id': crypto.randomUUID(), 'X-Shopify-Triggered-At': new Date().toISOString(),
    };
    const rec = { topic, url: target.url, status: null };
    this.delivered.push(rec);
    const req = http.request({ hostname: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers, timeout: 5000 }, (res) => { rec.status = res.statusCode; res.resume(); });
    req.on('error', (e) => { rec.status = 'error'; rec.error = e.message; });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  }
}

module.exports = { Webhooks };
