#!/usr/bin/env node
// Validates model cards against models/card.schema.json with ajv (from node_modules), as the engine does.
//   node scripts/training/tests/validate_card.mjs SCHEMA CARD...
// Prints one JSON line {"valid": bool, "errors": {card: [messages]}}; exit 1 if any card is invalid.
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';

const [schemaPath, ...cards] = process.argv.slice(2);
if (!schemaPath || cards.length === 0) {
  process.stderr.write('usage: node validate_card.mjs SCHEMA CARD...\n');
  process.exit(2);
}
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
const errors = {};
for (const card of cards) {
  if (!validate(JSON.parse(readFileSync(card, 'utf8')))) {
    errors[card] = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
  }
}
const valid = Object.keys(errors).length === 0;
process.stdout.write(JSON.stringify({ valid, errors }) + '\n');
process.exit(valid ? 0 : 1);
