// `npm run migrate`: brings the database named by DATABASE_URL to the latest schema, then exits: the way its backend
// does it at start (on PostgreSQL under the instances' advisory lock, and distributed on Citus).
import { loadConfig } from './config.js'
import { orRefuse } from './refusal.js'
import { migrateDatabase } from './store/backends.js'

const config = await orRefuse('not migrating', () => loadConfig())
// The app's database options, with one connection and room for long migrations.
const options = { ...config.database, poolMax: 1, statementTimeoutMs: 600_000 }

const { applied, notes } = await orRefuse('not migrating', async () => await migrateDatabase(options))
process.stdout.write(applied.length === 0 ? 'schema is up to date\n' : `applied: ${applied.join(', ')}\n`)
for (const note of notes) process.stdout.write(`${note}\n`)
