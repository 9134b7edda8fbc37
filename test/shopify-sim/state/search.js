'use strict';
// Minimal Shopify search syntax: space-separated terms (AND), `key:value`, `key:>value`, `key:>=value`,
// `key:<value`, `key:<=value`, quoted values ('..' or ".."), `-key:value` / `NOT key:value` negation,
// `key:a OR key:b` handled as alternatives of adjacent terms. Free text terms match a default field.
function tokenize(q) {
  const out = []; let i = 0; const s = String(q || '');
  while (i < s.length) {
    if (/\s/.test(s[i])) { i++; continue; }
    let tok = '';
    while (i < s.length && !/\s/.test(s[i])) {
      if (s[i] === '"' || s[i] === "'") {
        const qch = s[i++]; let v = '';
        while (i < s.length && s[i] !== qch) { if (s[i] === '\\') i++; v += s[i++]; }
        i++; tok += '\u0000' + v + '\u0000';
      } else tok += s[i++];
    }
    out.push(tok);
  }
  return out;
}

function parseQuery(q) {
  const toks = tokenize(q);
  const groups = []; // each group = array of alternative terms (OR)
  let neg = false; let orNext = false;
  for (const t of toks) {
    if (t === 'AND') continue;
    if (t === 'OR') { orNext = true; continue; }
    if (t === 'NOT') { neg = true; continue; }
    let raw = t; let n = neg; neg = false;
    if (raw.startsWith('-')) { n = true; raw = raw.slice(1); }
    let term;
    const m = /^([A-Za-z_.]+):(.*)$/s.exec(raw);
    if (m) {
      let v = m[2]; let op = ':';
      const om = /^(>=|<=|>|<)(.*)$/s.exec(v);
      if (om) { op = om[1]; v = om[2]; }
      term = { key: m[1].toLowerCase(), op, value: v.replace(/\u0000/g, ''), neg: n };
    } else term = { key: null, op: ':', value: raw.replace(/\u0000/g, ''), neg: n };
    if (orNext && groups.length) groups[groups.length - 1].push(term); else groups.push([term]);
    orNext = false;
  }
  return groups;
}

function cmpOp(op, a, b) {
  switch (op) {
    case '>': return a > b; case '>=': return a >= b; case '<': return a < b; case '<=': return a <= b;
    default: return a === b;
  }
}

function parseTime(v) {
  if (v === 'now') return Date.now();
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

// fields: { key: (item, term) => boolean }, default: (item, text) => boolean
function filterByQuery(items, q, fields, dflt) {
  if (!q) return items;
  const groups = parseQuery(q);
  return items.filter((it) => groups.every((alts) => alts.some((t) => {
    let r;
    if (t.key == null) r = dflt ? dflt(it, t.value) : true;
    else if (fields[t.key]) r = fields[t.key](it, t);
    else r = true; // unknown filters are ignored, as Shopify does (with a warning)
    return t.neg ? !r : r;
  })));
}

function strMatch(actual, t) {
  if (actual == null) return false;
  const v = t.value;
  if (v.endsWith('*')) return String(actual).toLowerCase().startsWith(v.slice(0, -1).toLowerCase());
  return String(actual).toLowerCase() === v.toLowerCase();
}
function timeMatch(ms, t) {
  const v = parseTime(t.value);
  if (v == null || ms == null) return false;
  if (t.op === ':') return Math.floor(ms / 1000) === Math.floor(v / 1000);
  return cmpOp(t.op, ms, v);
}
function numMatch(n, t) {
  const v = Number(t.value);
  return cmpOp(t.op === ':' ? '=' : t.op, Number(n), v);
}

module.exports = { parseQuery, filterByQuery, strMatch, timeMatch, numMatch, parseTime };
