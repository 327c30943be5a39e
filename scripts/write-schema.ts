// Writes schema/bottle.schema.json from src/bottle-spec/schema.ts; a test fails when the file is stale.
//   npx tsx scripts/write-schema.ts
import { mkdirSync, writeFileSync } from 'node:fs'
import { manifestSchema } from '../src/bottle-spec/schema.js'

const target = new URL('../schema/bottle.schema.json', import.meta.url)
mkdirSync(new URL('.', target), { recursive: true })
writeFileSync(target, JSON.stringify(manifestSchema, null, 2) + '\n')
console.log(`wrote ${target.pathname}`)
