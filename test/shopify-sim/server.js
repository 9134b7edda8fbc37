'use strict';
// HTTP surface (node:http, loopback only, keep-alive): Shopify Admin GraphQL endpoint, client-credentials
// grant, staged uploads, bulk results and the /_sim/ control API.
const http = require('node:http');
const crypto = require('node:crypto');
const { parse, Kind, getOperationAST } = require('graphql');
const { Sim } = require('./sim');
const { API_VERSION } = require('./schema');

const INVALID_TOKEN = { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' };

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = []; let size = 0;
    req.on('data', (c) => { size += c.length; if (size > limit) { reject(new Error('too large')); req.destroy(); return; } chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseMultipart(buf, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  if (!m) return null;
  const boundary = Buffer.from('--' + (m[1] || m[2]).trim());
  const parts = {};
  let pos = buf.indexOf(boundary);
  while (pos >= 0) {
    let start = pos + boundary.length;
    if (buf.slice(start, start + 2).toString() === '--') break;
    if (buf.slice(start, start + 2).toString() === '\r\n') start += 2;
    const next = buf.indexOf(boundary, start);
    if (next < 0) break;
    let part = buf.slice(start, next);
    if (part.slice(-2).toString() === '\r\n') part = part.slice(0, -2);
    const he = part.indexOf('\r\n\r\n');
    if (he >= 0) {
      const head = part.slice(0, he).toString();
      const body = part.slice(he + 4);
      const nm = /name="([^"]*)"/i.exec(head);
      const fn = /filename="([^"]*)"/i.exec(head);
      if (nm) parts[nm[1]] = fn ? { filename: fn[1], data: body } : body.toString();
    }
    pos = next;
  }
  return parts;
}

function rootFieldsOf(query, operationName) {
  try {
    const doc = parse(query);
    const op = getOperationAST(doc, operationName || undefined);
    if (!op) return [];
    return op.selectionSet.selections.filter((s) => s.kind === Kind.FIELD).map((s) => s.name.value);
  } catch (e) { return []; }
}

function createServer(opts) {
  opts = opts || {};
  const sim = new Sim(opts);
  const verbose = !!opts.verbose;
  const sockets = new Set();
  const pendingTimers = new Set();

  const send = (res, status, obj, headers) => {
    if (res.destroyed || res.writableEnded) return;
    const body = typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj);
    res.writeHead(status, Object.assign({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }, headers || {}));
    res.end(body);
  };
  const sleep = (ms, req) => new Promise((resolve) => {
    const t = setTimeout(() => { pendingTimers.delete(t); resolve(true); }, ms);
    pendingTimers.add(t);
    req.socket.once('close', () => { clearTimeout(t); pendingTimers.delete(t); resolve(false); });
  });
  const log = (req, status, extra) => { if (verbose) process.stderr.write(`${new Date().toISOString()} ${req.method} ${req.url} ${status}${extra ? ' ' + extra : ''}\n`); };

  async function handleGraphQL(req, res, version) {
    const raw = await readBody(req, 10 * 1024 * 1024);
    const token = req.headers['x-shopify-access-token'];
    if (!sim.checkToken(token)) { sim.counters.unauthorized++; log(req, 401); return send(res, 401, INVALID_TOKEN); }
    let body;
    const ct = String(req.headers['content-type'] || '');
    if (ct.includes('application/graphql')) body = { query: raw.toString('utf8') };
    else {
      try { body = JSON.parse(raw.toString('utf8') || 'null'); } catch (e) { log(req, 400); return send(res, 400, { errors: { query: 'Required parameter missing or invalid' } }); }
      if (body && typeof body.variables === 'string') {
        try { body.variables = body.variables.trim() ? JSON.parse(body.variables) : {}; } catch (e) { log(req, 400); return send(res, 400, { errors: { variables: 'Invalid JSON' } }); }
      }
    }
    const rootFields = body && typeof body.query === 'string' ? rootFieldsOf(body.query, body.operationName) : [];
    sim.counters.requestsTotal++;
    for (const f of rootFields) sim.counters.requests[f] = (sim.counters.requests[f] || 0) + 1;
    const rid = crypto.randomUUID();
    const hdr = { 'X-Shopify-API-Version': API_VERSION, 'X-Request-Id': rid };
    if (version !== API_VERSION) hdr['X-Shopify-API-Deprecated-Reason'] = `https://shopify.dev/api/usage/versioning (requested ${version}, served ${API_VERSION})`;
    const fault = sim.faults.decide(rootFields);
    if (fault) sim.counters.faults[fault]++;
    if (fault === 'reset') { log(req, 'RESET', rootFields.join(',')); req.socket.destroy(); return; }
    if (fault === 'hang') { log(req, 'HANG', rootFields.join(',')); return; }
    const lat = sim.faults.latency(rootFields);
    if (lat > 0) { sim.counters.faults.latency++; const ok = await sleep(lat, req); if (!ok) return; }
    if (fault === 'error500') { log(req, 500); return send(res, 500, { errors: [{ message: `Internal error. Looks like something went wrong on our end.\nRequest ID: ${rid} (include this in support requests).`, extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: rid } }] }, hdr); }
    if (fault === 'error503') { log(req, 503); return send(res, 503, { errors: [{ message: 'Service Unavailable', extensions: { code: 'SERVICE_UNAVAILABLE', requestId: rid } }] }, hdr); }
    if (fault === 'error429') { log(req, 429); return send(res, 429, { errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }] }, Object.assign({ 'Retry-After': '1' }, hdr)); }
    let r;
    try { r = sim.executor.run(body); } catch (e) {
      log(req, 500, e.stack);
      return send(res, 500, { errors: [{ message: `Internal error: ${e.message}`, extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: rid } }] }, hdr);
    }
    if (fault === 'applyThenDrop') { log(req, 'APPLY_THEN_DROP', rootFields.join(',')); req.socket.destroy(); return; }
    log(req, r.status, rootFields.join(','));
    return send(res, r.status, r.body, Object.assign(hdr, r.httpHeaders || {}));
  }

  async function handleOAuth(req, res) {
    const raw = (await readBody(req, 1024 * 1024)).toString('utf8');
    const ct = String(req.headers['content-type'] || '');
    let p = {};
    if (ct.includes('application/json')) { try { p = JSON.parse(raw); } catch (e) { p = {}; } }
    else p = Object.fromEntries(new URLSearchParams(raw));
    const u = new URL(req.url, 'http://x');
    for (const [k, v] of u.searchParams) if (p[k] == null) p[k] = v;
    const fault = sim.faults.cfg.operations && sim.faults.cfg.operations.includes('oauth') ? sim.faults.decide(['oauth']) : null;
    if (fault) sim.counters.faults[fault]++;
    if (fault === 'reset' || fault === 'applyThenDrop') { req.socket.destroy(); return; }
    if (fault === 'hang') return;
    if (fault === 'error500' || fault === 'error503') return send(res, fault === 'error500' ? 500 : 503, { errors: 'Internal Server Error' });
    if (fault === 'error429') return send(res, 429, { errors: 'Too Many Requests' }, { 'Retry-After': '1' });
    if (p.grant_type !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type', error_description: 'The authorization grant type is not supported by the authorization server.' });
    if (p.client_id !== sim.clientId || p.client_secret !== sim.clientSecret) {
      log(req, 400);
      return send(res, 400, { error: 'invalid_client', error_description: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.' });
    }
    log(req, 200);
    return send(res, 200, sim.issueToken());
  }

  async function handleSim(req, res, path) {
    const method = req.method;
    const readJson = async () => { const b = (await readBody(req, 1024 * 1024)).toString('utf8'); return b.trim() ? JSON.parse(b) : {}; };
    let m;
    if (path === '/_sim/staged-uploads' && method === 'POST') {
      const buf = await readBody(req, 200 * 1024 * 1024);
      const parts = parseMultipart(buf, req.headers['content-type']);
      if (!parts || !parts.key || !parts.file) {
        return send(res, 400, '<?xml version=\'1.0\' encoding=\'UTF-8\'?><Error><Code>InvalidArgument</Code><Message>Invalid argument: missing key or file.</Message></Error>', { 'Content-Type': 'application/xml' });
      }
      sim.store.stagedUploads.set(parts.key, parts.file.data);
      const status = Number(parts.success_action_status || 204);
      if (status === 201) {
        return send(res, 201, `<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>${sim.baseUrl()}/_sim/staged-uploads/${parts.key}</Location><Bucket>shopify-staged-uploads</Bucket><Key>${parts.key}</Key><ETag>"${crypto.createHash('md5').update(parts.file.data).digest('hex')}"</ETag></PostResponse>`, { 'Content-Type': 'application/xml' });
      }
      res.writeHead(status === 200 ? 200 : 204); return res.end();
    }
    if ((m = /^\/_sim\/bulk-results\/(\d+)\.jsonl$/.exec(path)) && method === 'GET') {
      const b = sim.store.bulkOps.get(Number(m[1]));
      if (!b || b.resultBody == null) return send(res, 404, { errors: 'Not Found' });
      return send(res, 200, b.resultBody, { 'Content-Type': 'application/jsonl' });
    }
    try {
      if (path === '/_sim/reset' && method === 'POST') { sim.reset(await readJson()); return send(res, 200, { ok: true, config: sim.configView() }); }
      if (path === '/_sim/config' && method === 'POST') return send(res, 200, sim.configure(await readJson()));
      if (path === '/_sim/config' && method === 'GET') return send(res, 200, sim.configView());
      if (path === '/_sim/counters' && method === 'GET') return send(res, 200, sim.counters);
      if (path === '/_sim/state' && method === 'GET') return send(res, 200, sim.state());
      if (path === '/_sim/tamper' && method === 'POST') return send(res, 200, sim.tamper(await readJson()));
      if (path === '/_sim/webhooks' && method === 'POST') { sim.webhooks.configure(await readJson()); return send(res, 200, { ok: true }); }
      if (path === '/_sim/health' && method === 'GET') return send(res, 200, { ok: true });
      if ((m = /^\/_sim\/orders\/(\d+)\/rest$/.exec(path)) && method === 'GET') {
        const o = sim.store.orders.get(Number(m[1]));
        return o ? send(res, 200, { order: sim.rest.order(o) }) : send(res, 404, { errors: 'Not Found' });
      }
      if ((m = /^\/_sim\/refunds\/(\d+)\/rest$/.exec(path)) && method === 'GET') {
        const r = sim.store.refunds.get(Number(m[1]));
        return r ? send(res, 200, { refund: sim.rest.refund(r) }) : send(res, 404, { errors: 'Not Found' });
      }
    } catch (e) {
      return send(res, 400, { error: e.message });
    }
    return send(res, 404, { errors: 'Not Found' });
  }

  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    let p;
    let m;
    if (path.startsWith('/_sim/')) { p = handleSim(req, res, path); res.on('finish', () => log(req, res.statusCode)); }
    else if (path === '/admin/oauth/access_token' && req.method === 'POST') p = handleOAuth(req, res);
    else if ((m = /^\/admin\/api\/([^/]+)\/graphql\.json$/.exec(path))) {
      const version = m[1];
      if (req.method !== 'POST') p = Promise.resolve(send(res, 405, { errors: 'Method Not Allowed' }));
      // unsupported / retired YYYY-MM versions fall forward to the oldest supported stable version (here: 2026-10);
      // anything that is not a version string is a 404, like Shopify.
      else if (!/^\d{4}-(01|04|07|10)$/.test(version) && version !== 'unstable') p = readBody(req, 1 << 20).then(() => send(res, 404, { errors: 'Not Found' }));
      else p = handleGraphQL(req, res, version);
    } else if (/^\/admin\/graphql\.json$/.test(path) && req.method === 'POST') p = handleGraphQL(req, res, 'none');
    else p = Promise.resolve(send(res, 404, { errors: 'Not Found' }));
    p.catch((e) => { if (verbose) process.stderr.write(`error: ${e.stack}\n`); try { send(res, 500, { errors: 'Internal Server Error' }); } catch (e2) { /* ignore */ } });
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.requestTimeout = 0;
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  return {
    sim,
    server,
    listen(port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port || 0, '127.0.0.1', () => { sim.port = server.address().port; resolve(sim.port); });
      });
    },
    close() {
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        if (server.closeAllConnections) server.closeAllConnections();
      });
    },
    get url() { return `http://127.0.0.1:${sim.port}`; },
  };
}

module.exports = { createServer };
