// `npm run migrate`: brings the database named by DATABASE_URL to the latest schema, then exits.
import { loadConfig } from './config.js'
import { createKnex, migrate } from './store/database.js'

const config = loadConfig()
const db = createKnex({
  databaseUrl: config.databaseUrl,
  poolMax: 1,
  statementTimeoutMs: 600_000,
  connectTimeoutMs: config.dbConnectTimeoutMs
})
try {
  const applied = await migrate(db)
  process.stdout.write(applied.length === 0 ? 'schema is up to date\n' : `applied: ${applied.join(', ')}\n`)
} finally {
  await db.destroy()
}
