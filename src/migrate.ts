// `npm run migrate`: brings the database named by DATABASE_URL to the latest schema, then exits.
import { loadConfig } from './config.js'
import { createKnex } from './store/backends.js'
import { migrate } from './store/database.js'

const config = loadConfig()
// The app's database options, with one connection and room for long migrations.
const db = createKnex({ ...config.database, poolMax: 1, statementTimeoutMs: 600_000 })
try {
  const applied = await migrate(db)
  process.stdout.write(applied.length === 0 ? 'schema is up to date\n' : `applied: ${applied.join(', ')}\n`)
} finally {
  await db.destroy()
}
