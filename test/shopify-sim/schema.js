'use strict';
// Loads Shopify's published Admin API 2026-10 introspection (extracted by ./setup) with buildClientSchema.
const fs = require('node:fs');
const path = require('node:path');
const { buildClientSchema } = require('graphql');

const SCHEMA_FILE = path.join(__dirname, 'schema', 'admin_2026-10.json');
let cached = null;

function loadSchema() {
  if (cached) return cached;
  if (!fs.existsSync(SCHEMA_FILE)) {
    throw new Error(`schema file ${SCHEMA_FILE} missing: run test/shopify-sim/setup first`);
  }
  const json = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
  cached = buildClientSchema(json.data || json);
  return cached;
}

module.exports = { loadSchema, SCHEMA_FILE, API_VERSION: '2026-10' };
