// hashText is PostgreSQL's hashtext(): against hashes recorded from PostgreSQL 15 on every store, and on the
// PostgreSQL suite against the server itself for a few thousand strings, ASCII and multibyte, of lengths 0 to 80.
import pg from 'pg'
import t from 'tap'
import { hashText } from '../../src/store/citus/hash.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'

// SELECT x, hashtext(x) on PostgreSQL 15: around the 12-byte blocks, UTF-8 of 2, 3 and 4 bytes.
const RECORDED: Array<[string, number]> = [
  ["", -1477818771],
  ["a", 1075015857],
  ["r-0", 1202906976],
  ["bob", -2077126515],
  ["alice", 791529341],
  ["user-1", -558825088],
  ["receiver_0123456789", 179264671],
  ["0123456789a", -1884806007],
  ["0123456789ab", -1437215093],
  ["0123456789abc", -1125236995],
  ["0123456789abcdefghijklm", 651022073],
  ["0123456789abcdefghijklmn", 1608954037],
  ["0123456789abcdefghijklmno", 728832695],
  ["0190f5d2-7c1e-7a3b-9f00-2b1c3d4e5f60", 1312627413],
  ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 246128094],
  ["é", -983094517],
  ["café", 103771354],
  ["中文", -922414767],
  ["接收者-42", 463544825],
  ["😀", 1734229978],
  ["😀ab", -48154133],
  ["a😀b中é", -1385176595],
  ["üüüüüüüüüüüüüüüüüüüüüüüüü", -1011712398],
  ["𝄞 clef", 509443548],
  [" leading space", 1525903550],
  ["tab\there", 523748727],
  ["new\nline", -1726180461]
]

t.test('hashText answers the hashes PostgreSQL gave for these strings', async (t) => {
  for (const [value, hash] of RECORDED) t.equal(hashText(value), hash, JSON.stringify(value))
})

/** Strings of every length 0-80 from a seeded generator: ASCII, then mixed with characters of 2, 3 and 4 UTF-8 bytes. */
function samples (): string[] {
  let seed = 42
  const next = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n }
  const ascii = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@ '
  const wide = ['é', 'ß', 'ü', '中', '文', '者', '😀', '🎉', '𝄞']
  const out: string[] = []
  for (let length = 0; length <= 80; length++) {
    for (let n = 0; n < 25; n++) {
      let value = ''
      for (let i = 0; i < length; i++) value += n < 15 || next(4) !== 0 ? ascii[next(ascii.length)] : wide[next(wide.length)]
      out.push(value)
    }
  }
  return out
}

t.test('hashText agrees with the server\'s hashtext() for 2,025 strings, and varchar hashes as text', { skip: TEST_STORE !== 'postgres' && 'needs PostgreSQL' }, async (t) => {
  const client = new pg.Client({ connectionString: await createTestDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  const values = samples()
  const { rows } = await client.query<{ hash: number }>(
    'SELECT hashtext(value) AS hash FROM unnest($1::text[]) WITH ORDINALITY AS u(value, i) ORDER BY i', [values])
  const differing = values.filter((value, i) => hashText(value) !== rows[i]?.hash)
  t.equal(rows.length, values.length)
  t.same(differing, [], 'no string hashes differently')
  // Citus hashes a column with the default hash opclass of its type: varchar has none of its own, so it takes text's.
  const opclasses = await client.query<{ type: string, proc: string }>(`
    SELECT oc.opcintype::regtype::text AS type, ap.amproc::regproc::text AS proc
    FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
    JOIN pg_amproc ap ON ap.amprocfamily = oc.opcfamily AND ap.amproclefttype = oc.opcintype AND ap.amprocnum = 1
    WHERE am.amname = 'hash' AND oc.opcdefault AND oc.opcintype IN ('text'::regtype, 'varchar'::regtype)`)
  t.same(opclasses.rows, [{ type: 'text', proc: 'hashtext' }])
})
