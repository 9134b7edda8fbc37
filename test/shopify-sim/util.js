'use strict';
const crypto = require('node:crypto');
const { GraphQLError } = require('graphql');

const ID_BASE = 1000000000;

function gid(type, n, query) { return `gid://shopify/${type}/${n}` + (query ? `?${query}` : ''); }
function parseGid(id) {
  if (typeof id !== 'string') return null;
  const m = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d+)(\?.*)?$/.exec(id);
  if (!m) return null;
  return { type: m[1], num: Number(m[2]), query: m[3] ? m[3].slice(1) : null };
}
function numOf(id) { const p = parseGid(id); return p ? String(p.num) : null; }

// money: integer cents internally
function toCents(v) {
  if (v === null || v === undefined || v === '') return 0;
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isFinite(n)) return NaN;
  return Math.round(n * 100);
}
function fmt(c) { return (Math.round(c) / 100).toFixed(2); }

function stableStringify(v) {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(stableStringify).join(',') + ']';
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + stableStringify(v[k])).join(',') + '}';
}
function hash(v) { return crypto.createHash('sha256').update(stableStringify(v)).digest('hex'); }

function userError(field, message, code) {
  const e = { field: field == null ? null : field.map(String), message };
  if (code !== undefined) e.code = code;
  return e;
}

function gqlError(message, code, extra) {
  return new GraphQLError(message, { extensions: Object.assign({ code }, extra || {}) });
}

function slugify(s) {
  const out = String(s || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return out || 'product';
}

// Seeded PRNG (mulberry32)
function prng(seed) {
  let a = (seed >>> 0) || 0x9e3779b9;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function b64(s) { return Buffer.from(s).toString('base64'); }
function unb64(s) { try { return Buffer.from(String(s), 'base64').toString('utf8'); } catch (e) { return ''; } }

// Relay connection over an already sorted array. key(item) gives a sortable tuple.
function connection(items, args, keyFn) {
  args = args || {};
  keyFn = keyFn || ((x) => [x.__sortId || 0]);
  let list = items.slice();
  if (args.reverse) list.reverse();
  const cmp = (a, b) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  };
  const dir = args.reverse ? -1 : 1;
  const cur = (it) => b64(JSON.stringify(keyFn(it)));
  if (args.after) {
    let k; try { k = JSON.parse(unb64(args.after)); } catch (e) { throw gqlError('Invalid cursor for current pagination sort.', 'BAD_REQUEST'); }
    list = list.filter((it) => dir * cmp(keyFn(it), k) > 0);
  }
  if (args.before) {
    let k; try { k = JSON.parse(unb64(args.before)); } catch (e) { throw gqlError('Invalid cursor for current pagination sort.', 'BAD_REQUEST'); }
    list = list.filter((it) => dir * cmp(keyFn(it), k) < 0);
  }
  const total = list.length;
  let hasNext = false; let hasPrev = !!args.after;
  if (args.first != null) { if (list.length > args.first) { hasNext = true; } list = list.slice(0, args.first); }
  if (args.last != null) { if (list.length > args.last) { hasPrev = true; } list = list.slice(Math.max(0, list.length - args.last)); }
  if (args.before) hasNext = true;
  const edges = list.map((n) => ({ __typename: undefined, node: n, cursor: cur(n) }));
  return {
    nodes: list,
    edges,
    pageInfo: {
      hasNextPage: hasNext,
      hasPreviousPage: hasPrev,
      startCursor: edges.length ? edges[0].cursor : null,
      endCursor: edges.length ? edges[edges.length - 1].cursor : null,
    },
    __total: total,
  };
}

function requireFirstOrLast(args, name) {
  if (args.first == null && args.last == null) {
    throw gqlError('you must provide one of first or last', 'BAD_REQUEST');
  }
  if ((args.first != null && args.first > 250) || (args.last != null && args.last > 250)) {
    throw gqlError(`The requested page size of ${args.first || args.last} exceeds the maximum allowed (250).`, 'BAD_REQUEST');
  }
}

module.exports = { ID_BASE, gid, parseGid, numOf, toCents, fmt, stableStringify, hash, userError, gqlError, slugify, prng, b64, unb64, connection, requireFirstOrLast };
