#!/usr/bin/env node
// A stand-in for the HTTPS receiver in front of the database: accepts webhook
// POSTs and appends each delivery, raw body base64-encoded (byte for byte),
// with its headers, as one JSON line to FILE.  Prints "listening on URL".
//   receiver.js FILE
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const file = process.argv[2];
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-shopify-')) headers[k] = v;
    fs.appendFileSync(file, JSON.stringify({ path: req.url, headers, body_b64: Buffer.concat(chunks).toString('base64') }) + '\n');
    res.writeHead(200); res.end('ok');
  });
});
srv.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${srv.address().port}/hook`));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
