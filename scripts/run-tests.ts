// `npm test`: runs the whole tap suite on SQLite and on PostgreSQL, and ends with one line "N passed, N failed".
// The two stores' runs go at once (TEST_STORES_IN_TURN=1: one after the other); the output shows SQLite's, then PostgreSQL's.
// For .ci/run: TEST_EXPECT_NODE fails the run unless it runs on that Node version; TEST_TALLY_FILE gets the counts as JSON.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import pg from 'pg'
import { createPostgresTemplate, dropPostgresTemplate, PG_ADMIN_URL, TEST_STORES, type TestStore } from '../test/helpers/database.js'

const files = process.argv.length > 2 ? process.argv.slice(2) : ['test/**/*.test.ts']
const inCi = process.env.CI === 'true' || process.env.CI === '1'

interface Tally { passed: number, failed: number, failures: string[] }

// The test files load through tsx (esbuild, with a cache of what it compiled) rather than tap's default ts-node, which
// compiles the sources again in every test process: TAP_TYPE_STRIP_ONLY turns ts-node off, --import=tsx turns tsx on.
// tap keeps ts-node on Node 20 whatever the variable says, so there it stays as it was.
const tsx = Number(process.versions.node.split('.')[0]) >= 22
const TSX_ENV: Record<string, string> = tsx ? { TAP_TYPE_STRIP_ONLY: '1' } : {}
const TSX_ARGS = tsx ? ['--node-arg=--import=tsx'] : []

/**
 * Where a store's run writes: the first store's output goes out as it comes, the next one's is held until the one
 * before it has ended, so that the log reads as if they ran one after the other.
 */
interface Output { write (text: string | Buffer): void, end (): void }

function relay (count: number): Output[] {
  const held: Array<Array<string | Buffer>> = Array.from({ length: count }, () => [])
  const ended = Array.from({ length: count }, () => false)
  let current = 0
  const advance = () => {
    while (current < count) {
      for (const chunk of held[current] ?? []) process.stdout.write(chunk)
      held[current] = []
      if (!ended[current]) return
      current++
    }
  }
  return held.map((_, index) => ({
    write (text) {
      if (index === current) process.stdout.write(text)
      else held[index]?.push(text)
    },
    end () {
      ended[index] = true
      if (index === current) advance()
    }
  }))
}

function runTap (store: TestStore, output: Output, env: Record<string, string> = {}): Promise<Tally> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tap', '-R', 'tap', '--disable-coverage', '--timeout=600', ...TSX_ARGS, ...files], {
      env: { ...process.env, ...TSX_ENV, ...env, TEST_STORE: store },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let tail = ''
    // Every "not ok" line with the subtests above it, so that the end of the output names what failed: a CI log is
    // often read from its tail only.
    const failures: string[] = []
    const path: string[] = []
    let partial = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output.write(chunk)
      const text = chunk.toString('utf8')
      tail = (tail + text).slice(-4000)
      const lines = (partial + text).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        const subtest = /^( *)# Subtest: (.*)$/.exec(line)
        if (subtest !== null) {
          const depth = (subtest[1] ?? '').length / 4
          path.length = depth
          path[depth] = subtest[2] ?? ''
        } else if (/^ *not ok /.test(line)) {
          const depth = (/^( *)/.exec(line)?.[1] ?? '').length / 4
          failures.push([...path.slice(0, depth), line.trim()].join(' > '))
        }
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const totals = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(tail)
      const passed = Number(totals?.[2] ?? 0)
      let failed = Number(totals?.[3] ?? 0)
      // A file that crashed may leave no failed assertion behind: the exit code still counts.
      if (code !== 0 && failed === 0) failed = 1
      resolve({ passed, failed, failures })
    })
  })
}

async function postgresReachable (): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

const results: Array<[string, Tally]> = []
process.stdout.write(`Tests on node ${process.version}\n`)
const expectedNode = process.env.TEST_EXPECT_NODE
if (expectedNode !== undefined && expectedNode !== process.version) {
  results.push(['runtime', { passed: 0, failed: 1, failures: [`expected node ${expectedNode}, running on ${process.version}`] }])
}
async function runStore (store: TestStore, output: Output): Promise<[string, Tally] | undefined> {
  try {
    // The embedded store needs nothing; a server's must be reachable (and is, under CI).
    const unreachable = store === 'postgres' ? await postgresReachable() : null
    if (unreachable === null && store === 'postgres') {
      // One migrated database that the tests' databases are copied from (test/helpers/database.ts), dropped at the end.
      const template = await createPostgresTemplate()
      try {
        return [store, await runTap(store, output, { TEST_PG_TEMPLATE: template })]
      } finally {
        await dropPostgresTemplate(template)
      }
    } else if (unreachable === null) {
      return [store, await runTap(store, output)]
    } else if (inCi) {
      output.write(`\nPostgreSQL at ${PG_ADMIN_URL} is unreachable (${unreachable}): under CI that is a failure.\n`)
      return [store, { passed: 0, failed: 1, failures: ['PostgreSQL unreachable'] }]
    } else {
      output.write(`\n*** The PostgreSQL suite did NOT run: ${PG_ADMIN_URL} is unreachable (${unreachable}).\n` +
        '*** Start PostgreSQL or set TEST_PG_ADMIN_URL to run it; CI runs it always.\n')
      return undefined
    }
  } finally {
    output.end()
  }
}

const outputs = relay(TEST_STORES.length)
const runs: Array<[string, Tally] | undefined> = []
if (process.env.TEST_STORES_IN_TURN === '1') {
  for (const [index, store] of TEST_STORES.entries()) runs.push(await runStore(store, outputs[index] as Output))
} else {
  runs.push(...await Promise.all(TEST_STORES.map((store, index) => runStore(store, outputs[index] as Output))))
}
for (const run of runs) if (run !== undefined) results.push(run)

const total = results.reduce((sum, [, tally]) => ({ passed: sum.passed + tally.passed, failed: sum.failed + tally.failed }), { passed: 0, failed: 0 })
process.stdout.write('\n')
for (const [store, tally] of results) {
  for (const failure of tally.failures.slice(0, 40)) process.stdout.write(`${store} failed: ${failure.slice(0, 300)}\n`)
  if (tally.failures.length > 40) process.stdout.write(`${store}: ${tally.failures.length - 40} more failed lines\n`)
}
for (const [store, tally] of results) process.stdout.write(`${store} on node ${process.version}: ${tally.passed} passed, ${tally.failed} failed\n`)
if (process.env.TEST_TALLY_FILE !== undefined) {
  writeFileSync(process.env.TEST_TALLY_FILE, JSON.stringify({ node: process.version, ...total }))
}
process.stdout.write(`${total.passed} passed, ${total.failed} failed\n`)
process.exitCode = total.failed > 0 ? 1 : 0
