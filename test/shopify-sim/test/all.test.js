'use strict';
// One process for the whole suite: the 11 MB schema is built once instead of once per file.
// Each area lives in ../cases/<area>.js and runs as a describe() block; run one area alone with
// `node --test cases/<area>.js`.
const fs = require('node:fs');
const path = require('node:path');
const { describe } = require('node:test');

const dir = path.join(__dirname, '..', 'cases');
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.js') && x !== 'helpers.js').sort()) {
  describe(f.replace(/\.js$/, ''), () => { require(path.join(dir, f)); });
}
