// `npm run openapi`: writes the OpenAPI document the service serves, built with the default configuration, to openapi/openapi.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const target = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'openapi.json')

const app = await buildApp(loadConfig({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }), { sweep: false })
try {
  await app.ready()
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, JSON.stringify(app.swagger(), null, 2) + '\n')
  process.stdout.write(`wrote ${target}\n`)
} finally {
  await app.close()
}
