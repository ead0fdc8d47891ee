// The SQL text of every named statement equals the committed snapshot (sql-snapshot.json): a refactoring that changes
// what a store sends fails here. After a deliberate change: UPDATE_SQL_SNAPSHOT=1 npx tap test/store/sql-snapshot.test.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { dumpSql } from './sql-dump.js'

const SNAPSHOT = new URL('./sql-snapshot.json', import.meta.url)

t.test('every statement the stores send has the text of the snapshot', async (t) => {
  const dump = dumpSql()
  if (process.env.UPDATE_SQL_SNAPSHOT === '1' || !existsSync(SNAPSHOT)) writeFileSync(SNAPSHOT, `${JSON.stringify(dump, null, 2)}\n`)
  const snapshot = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, string>
  t.strictSame(Object.keys(dump).sort(), Object.keys(snapshot).sort(), 'the same statements')
  for (const [key, text] of Object.entries(snapshot)) t.equal(dump[key], text, key)
})
