'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { start } = require('./helpers');

const servers = [];
after(async () => { for (const s of servers) await s.close(); });

const grant = (base, body) => fetch(`${base}/admin/oauth/access_token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });

test('client credentials grant issues tokens that expire', async () => {
  const t = await start({ clientId: 'cid', clientSecret: 'sec', tokenTtl: 3600 });
  servers.push(t);
  const bad = await grant(t.base, { grant_type: 'client_credentials', client_id: 'cid', client_secret: 'wrong' });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error, 'invalid_client');
  const res = await grant(t.base, { grant_type: 'client_credentials', client_id: 'cid', client_secret: 'sec' });
  assert.equal(res.status, 200);
  const tok = await res.json();
  assert.match(tok.access_token, /^shpat_[0-9a-f]{32}$/);
  assert.equal(tok.expires_in, 3600);
  assert.match(tok.scope, /write_inventory/);
  assert.equal((await t.gql('{ shop { name } }', undefined, { token: tok.access_token })).status, 200);
  await t.ctl('config', { tokenTtl: 0.5 });
  const short = await (await grant(t.base, { grant_type: 'client_credentials', client_id: 'cid', client_secret: 'sec' })).json();
  assert.equal((await t.gql('{ shop { name } }', undefined, { token: short.access_token })).status, 200);
  await new Promise((r) => setTimeout(r, 600));
  const exp = await t.gql('{ shop { name } }', undefined, { token: short.access_token });
  assert.equal(exp.status, 401);
  assert.equal(exp.body.errors, '[API] Invalid API key or access token (unrecognized login or wrong password)');
  // the static token keeps working
  assert.equal((await t.gql('{ shop { name } }')).status, 200);
});

test('run: foreground, prints the listening line, custom token, SIGTERM exits cleanly', async () => {
  const child = spawn(path.join(__dirname, '..', 'run'), ['--port', '0', '--plan', 'plus', '--token', 'shpat_cli', '--seed', '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => { buf += d; const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(buf); if (m) resolve(m); });
    child.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
  const base = line[1];
  assert.notEqual(line[2], '0');
  const r = await fetch(`${base}/admin/api/2026-10/graphql.json`, { method: 'POST', headers: { 'X-Shopify-Access-Token': 'shpat_cli', 'Content-Type': 'application/json' }, body: JSON.stringify({ query: '{ shop { name } }' }) });
  const body = await r.json();
  assert.equal(body.extensions.cost.throttleStatus.maximumAvailable, 20000);
  const code = await new Promise((resolve) => { child.on('exit', (c, sig) => resolve(c === null ? sig : c)); child.kill('SIGTERM'); });
  assert.equal(code, 0);
});
