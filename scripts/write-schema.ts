// Writes schema/bottle.schema.json (from src/bottle-spec/schema.ts) and schema/plan.schema.json
// (from src/plan/schema.ts); a test fails when either file is stale.
//   npx tsx scripts/write-schema.ts
import { mkdirSync, writeFileSync } from 'node:fs'
import { manifestSchema } from '../src/bottle-spec/schema.js'
import { planSchema } from '../src/plan/schema.js'

for (const [file, schema] of [['bottle.schema.json', manifestSchema], ['plan.schema.json', planSchema]] as const) {
  const target = new URL(`../schema/${file}`, import.meta.url)
  mkdirSync(new URL('.', target), { recursive: true })
  writeFileSync(target, JSON.stringify(schema, null, 2) + '\n')
  console.log(`wrote ${target.pathname}`)
}
