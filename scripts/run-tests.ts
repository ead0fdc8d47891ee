// `npm test`: runs the whole tap suite on SQLite and on PostgreSQL, and ends with one line "N passed, N failed".
// The two stores run at once (TEST_STORES_IN_TURN=1: one after the other), each in the groups of scripts/test-plan.ts;
// the log shows SQLite's output, then PostgreSQL's.
// For .ci/run: TEST_EXPECT_NODE fails the run unless it runs on that Node version; TEST_TALLY_FILE gets the counts as JSON.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createPostgresTemplate, dropPostgresTemplate, PG_ADMIN_URL, TEST_STORES, type TestStore } from '../test/helpers/database.js'
import { relay, type Output } from './output-relay.js'
import { ALL, planOf, type Group } from './test-plan.js'

// tap runs one file at a time on 2 cores (it keeps a core free); much of a file's time is waiting (child processes,
// commits, held requests), so the main group of each store runs TEST_JOBS files at once (2 unless set).
const JOBS = Math.max(1, Number(process.env.TEST_JOBS ?? '2') || 2)
const plan = planOf(process.argv.length > 2 ? process.argv.slice(2) : [ALL], JOBS)
const inTurn = process.env.TEST_STORES_IN_TURN === '1'
const inCi = process.env.CI === 'true' || process.env.CI === '1'

interface Tally { passed: number, failed: number, failures: string[] }

// The test files load through tsx (esbuild, with a cache of what it compiled) rather than tap's default ts-node, which
// compiles the sources again in every test process: TAP_TYPE_STRIP_ONLY turns ts-node off, --import=tsx turns tsx on.
// tap keeps ts-node on Node 20 whatever the variable says, so there it stays as it was.
const tsx = Number(process.versions.node.split('.')[0]) >= 22
const TSX_ENV: Record<string, string> = tsx ? { TAP_TYPE_STRIP_ONLY: '1' } : {}
const TSX_ARGS = tsx ? ['--node-arg=--import=tsx'] : []

function runTap (store: TestStore, group: Group, output: Output, env: Record<string, string> = {}): Promise<Tally> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tap', '-R', 'tap', '--disable-coverage', '--timeout=600', `--jobs=${group.jobs}`, ...TSX_ARGS, ...group.files], {
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

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENTRY_POINTS = ['dist/src/server.js', 'dist/src/migrate.js', 'dist/src/config.js']

/**
 * Builds dist/ from the sources before any test starts (npm run build's tsc -b: incremental, a check of timestamps
 * when nothing changed); resolves with tsc's complaint, or null. Its build info lives in dist/, so a deleted dist/ is
 * built again; an entry point missing from a dist/ that tsc finds up to date is built again with --force.
 */
function buildDist (): string | null {
  const tsc = (...args: string[]) => spawnSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-b', 'tsconfig.build.json', ...args], {
    cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']
  })
  let built = tsc()
  if (built.status === 0 && !ENTRY_POINTS.every((file) => existsSync(`${ROOT}${file}`))) built = tsc('--force')
  return built.status === 0 ? null : `${built.stdout}${built.stderr}`.trim() || `tsc exited with ${String(built.status ?? built.signal)}`
}

const results: Array<[string, Tally]> = []
process.stdout.write(`Tests on node ${process.version}\n`)
// The tests that start the service as a child process start it from dist/ (test/helpers/process.ts) once it is built
// here, for this run; if the build fails they start the sources through tsx, and the failed build counts as a failure.
const buildStarted = Date.now()
const buildFailure = buildDist()
if (buildFailure === null) {
  process.env.TEST_DIST_BUILT = '1'
  process.stdout.write(`dist/ built for the tests' child processes in ${((Date.now() - buildStarted) / 1000).toFixed(1)} s\n`)
} else {
  delete process.env.TEST_DIST_BUILT
  process.stdout.write(`npm run build failed:\n${buildFailure}\n`)
  results.push(['build', { passed: 0, failed: 1, failures: ['npm run build (tsc -b tsconfig.build.json) failed'] }])
}
const expectedNode = process.env.TEST_EXPECT_NODE
if (expectedNode !== undefined && expectedNode !== process.version) {
  results.push(['runtime', { passed: 0, failed: 1, failures: [`expected node ${expectedNode}, running on ${process.version}`] }])
}
/** Resolves once every store's main group is done: the groups that run alone wait for it, and for one another. */
const togetherDone = TEST_STORES.map(() => {
  let resolve = () => {}
  const promise = new Promise<void>((done) => { resolve = done })
  return { promise, resolve }
})
let aloneTurn: Promise<unknown> = Promise.resolve()
function alone<T> (run: () => Promise<T>): Promise<T> {
  const turn = aloneTurn.then(async () => {
    if (!inTurn) await Promise.all(togetherDone.map((done) => done.promise))
    return await run()
  })
  aloneTurn = turn.catch(() => {})
  return turn
}

const added = (tallies: Tally[]): Tally => tallies.reduce((total, tally) => ({
  passed: total.passed + tally.passed, failed: total.failed + tally.failed, failures: [...total.failures, ...tally.failures]
}), { passed: 0, failed: 0, failures: [] })

/** The plan's groups for one store: the main group and the first at once, then the alone ones in their turn. */
async function runGroups (store: TestStore, index: number, outputs: Output[], env: Record<string, string> = {}): Promise<Tally> {
  const run = (group: Group) => runTap(store, group, outputs[plan.indexOf(group)] as Output, env)
  const side = Promise.all(plan.filter((group) => group.kind !== 'alone').map((group) =>
    run(group).finally(() => { if (group.kind === 'together') togetherDone[index]?.resolve() })))
  side.catch(() => {}) // awaited below, after the alone groups
  if (!plan.some((group) => group.kind === 'together')) togetherDone[index]?.resolve()
  const aloneTallies: Tally[] = []
  for (const group of plan.filter((each) => each.kind === 'alone')) aloneTallies.push(await alone(() => run(group)))
  return added([...await side, ...aloneTallies])
}

async function runStore (store: TestStore, index: number, outputs: Output[]): Promise<[string, Tally] | undefined> {
  const output = outputs[0] as Output
  try {
    // The embedded store needs nothing; a server's must be reachable (and is, under CI).
    const unreachable = store === 'postgres' ? await postgresReachable() : null
    if (unreachable === null && store === 'postgres') {
      // One migrated database that the tests' databases are copied from (test/helpers/database.ts), dropped at the end.
      const template = await createPostgresTemplate()
      try {
        return [store, await runGroups(store, index, outputs, { TEST_PG_TEMPLATE: template })]
      } finally {
        await dropPostgresTemplate(template)
      }
    } else if (unreachable === null) {
      return [store, await runGroups(store, index, outputs)]
    } else if (inCi) {
      output.write(`\nPostgreSQL at ${PG_ADMIN_URL} is unreachable (${unreachable}): under CI that is a failure.\n`)
      return [store, { passed: 0, failed: 1, failures: ['PostgreSQL unreachable'] }]
    } else {
      output.write(`\n*** The PostgreSQL suite did NOT run: ${PG_ADMIN_URL} is unreachable (${unreachable}).\n` +
        '*** Start PostgreSQL or set TEST_PG_ADMIN_URL to run it; CI runs it always.\n')
      return undefined
    }
  } finally {
    togetherDone[index]?.resolve()
    for (const each of outputs) each.end()
  }
}

// One output per group of each store, in the order the log shows them.
const outputs = relay(TEST_STORES.length * plan.length)
const outputsOf = (index: number) => outputs.slice(index * plan.length, (index + 1) * plan.length)
const runs: Array<[string, Tally] | undefined> = []
if (inTurn) {
  for (const [index, store] of TEST_STORES.entries()) runs.push(await runStore(store, index, outputsOf(index)))
} else {
  runs.push(...await Promise.all(TEST_STORES.map((store, index) => runStore(store, index, outputsOf(index)))))
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
  // The failed lines travel with the counts: .ci/run prints them again after its totals, the part of a CI log that
  // is always kept.
  const failures = results.flatMap(([store, tally]) => tally.failures.slice(0, 40).map((failure) => `${store}: ${failure.slice(0, 300)}`))
  writeFileSync(process.env.TEST_TALLY_FILE, JSON.stringify({ node: process.version, ...total, failures }))
}
process.stdout.write(`${total.passed} passed, ${total.failed} failed\n`)
process.exitCode = total.failed > 0 ? 1 : 0
