// Picks the store for DATABASE_URL: the embedded SQLite store, or the knex store on PostgreSQL.
import { dialectOf, type DatabaseOptions } from './database.js'
import { createKnexStore } from './knex-store.js'
import { createSqliteStore } from './sqlite-store.js'
import type { Store } from './types.js'

export { databaseOptions } from './database.js'

export async function createStore (options: DatabaseOptions): Promise<Store> {
  return dialectOf(options.databaseUrl) === 'postgres' ? await createKnexStore(options) : await createSqliteStore(options)
}
