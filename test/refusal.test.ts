// A DATABASE_URL that its PostgreSQL refuses (no such database, no such role, a role without LOGIN) stops the start
// and `npm run migrate` with one line that names DATABASE_URL and says what to do: no stack, never the password.
import pg from 'pg'
import t from 'tap'
import { backendFor } from '../src/store/backends.js'
import { PG_ADMIN_URL } from './helpers/database.js'
import { startExpectingFailure } from './helpers/process.js'

const PASSWORD = 'never-print-this-9f2c'
const unique = (prefix: string) => `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`

/** PG_ADMIN_URL with another role (and a password it must not print) and database. */
function urlAs (role: string, database: string): string {
  const url = new URL(PG_ADMIN_URL)
  url.username = role
  url.password = PASSWORD
  url.pathname = `/${database}`
  return url.toString()
}

async function admin (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const adminUrl = new URL(PG_ADMIN_URL)
const server = `${adminUrl.hostname}:${adminUrl.port || '5432'}`
const adminRole = decodeURIComponent(adminUrl.username)
const missingDatabase = unique('om_missing_db')
const missingRole = unique('om_missing_role')
const nologinRole = unique('om_nologin')

t.before(async () => { await admin(`CREATE ROLE ${nologinRole} NOLOGIN`) })
t.teardown(async () => { await admin(`DROP ROLE IF EXISTS ${nologinRole}`) })

const CASES: Array<[string, () => string, RegExp]> = [
  ['a database that does not exist', () => urlAs(adminRole, missingDatabase),
    new RegExp(`DATABASE_URL: database "${missingDatabase}" does not exist on ${server}; create it \\(createdb -h .* ${missingDatabase}\\) or point DATABASE_URL at an existing database$`)],
  ['a role that does not exist', () => urlAs(missingRole, 'postgres'),
    new RegExp(`DATABASE_URL: role "${missingRole}" does not exist on ${server}; create it \\(createuser .*--login ${missingRole}\\) or point DATABASE_URL at an existing role$`)],
  ['a role that cannot log in (NOLOGIN)', () => urlAs(nologinRole, 'postgres'),
    new RegExp(`DATABASE_URL: role "${nologinRole}" cannot log in on ${server}; grant it LOGIN \\(ALTER ROLE "${nologinRole}" LOGIN\\) or point DATABASE_URL at a role that can$`)]
]
const ENTRY_POINTS: Array<[string, string, string]> = [
  ['the start (src/server.ts)', 'src/server.ts', 'not starting'],
  ['npm run migrate (src/migrate.ts)', 'src/migrate.ts', 'not migrating']
]

for (const [label, url, line] of CASES) {
  for (const [entry, script, refusing] of ENTRY_POINTS) {
    t.test(`a DATABASE_URL naming ${label} stops ${entry} with one line naming DATABASE_URL and what to do`, async (t) => {
      const { code, output } = await startExpectingFailure({ DATABASE_URL: url(), DB_CONNECT_TIMEOUT_MS: '5000' }, script)
      t.type(code, 'number', `exited on its own (${String(code)})`)
      t.not(code, 0, 'with a non-zero code')
      const lines = output.split('\n').filter((text) => text.trim() !== '')
      t.equal(lines.length, 1, 'one line', { output })
      t.match(lines[0], new RegExp(`^offline-messages: ${refusing}: `))
      t.match(lines[0], line)
      t.notMatch(output, /\n\s+at |DatabaseError|node_modules|Node\.js v/, 'no stack trace')
      t.notMatch(output, PASSWORD, 'never the password of the URL')
      t.notMatch(output, /Server listening/)
    })
  }
}

t.test('a refused password is reported without the password, and failures that are not refusals are left alone', async (t) => {
  const url = urlAs('carol', 'messages')
  const backend = backendFor(url)
  const refusal = backend?.refusal?.(Object.assign(new Error('password authentication failed for user "carol"'), { code: '28P01' }), url)
  t.match(refusal, new RegExp(`^password authentication failed for role "carol" on ${server}; correct the password in DATABASE_URL`))
  t.notMatch(refusal, PASSWORD)
  t.equal(backend?.refusal?.(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), url), null)
  t.equal(backend?.refusal?.(Object.assign(new Error('syntax error'), { code: '42601' }), url), null)
})
