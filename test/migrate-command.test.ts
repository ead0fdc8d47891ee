// `npm run migrate` (src/migrate.ts) on a new database of the store under test: it applies every migration through its
// backend, says which, and a second run finds nothing to do.
import t from 'tap'
import { migrations } from '../db/migrations/index.js'
import { createTestDatabase } from './helpers/database.js'
import { startExpectingFailure } from './helpers/process.js'

t.test('npm run migrate applies every migration once, then says the schema is up to date', async (t) => {
  const env = { DATABASE_URL: await createTestDatabase(t, { file: true }) }
  const first = await startExpectingFailure(env, 'src/migrate.ts')
  t.equal(first.code, 0, 'the first run exits 0')
  t.equal(first.output, `applied: ${migrations.map((migration) => migration.name).join(', ')}\n`, 'and names every migration it applied, in order')
  const second = await startExpectingFailure(env, 'src/migrate.ts')
  t.equal(second.code, 0, 'the second run exits 0')
  t.equal(second.output, 'schema is up to date\n', 'and finds nothing to do')
})
