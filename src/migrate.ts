// `npm run migrate`: brings the database named by DATABASE_URL to the latest schema, then exits. On PostgreSQL the
// same way the service does it at start: under the instances' advisory lock, and distributed on Citus.
import { loadConfig } from './config.js'
import { orRefuse } from './refusal.js'
import { backendFor, createKnex } from './store/backends.js'
import { migrate } from './store/database.js'
import { citusLogLine, migrateCitus, type CitusMigrationReport } from './store/citus/migrations.js'

const config = await orRefuse('not migrating', () => loadConfig())
// The app's database options, with one connection and room for long migrations.
const options = { ...config.database, poolMax: 1, statementTimeoutMs: 600_000 }

async function migrateWithKnex (): Promise<CitusMigrationReport> {
  const db = createKnex(options)
  try {
    return { applied: await migrate(db) }
  } finally {
    await db.destroy()
  }
}

const report = await orRefuse('not migrating', async () =>
  backendFor(options.databaseUrl)?.name === 'postgres' ? await migrateCitus(options) : await migrateWithKnex())
process.stdout.write(report.applied.length === 0 ? 'schema is up to date\n' : `applied: ${report.applied.join(', ')}\n`)
const citus = citusLogLine(report)
if (citus !== null) process.stdout.write(`${citus}\n`)
