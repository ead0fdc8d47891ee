// The benchmark's command-line options and environment, what the results say about the machine, and where they go.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

export const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '40000' },
    // --fill copy: the default run preloads one receiver through the batch endpoint and copies its rows in SQL to the
    // others (bench/fill.ts): minutes for 10,000,000 rows where the batch path takes hours. On PostgreSQL each row count
    // gets a database of its own on --postgres-url's server. Default http: every message through the batch endpoint.
    fill: { type: 'string', default: 'http' },
    // --scale: each of --rows on a database of its own, one service each, all running; every round runs a scenario
    // against each row count in turn, alternating (bench/scale.ts). Writes scale.md / scale.json (scale-postgres.*).
    scale: { type: 'boolean', default: false },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    // Default: store,batch,summary,page,ack,expiry,wakeup; with --devices, store,summary,page,ack.
    scenarios: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    baseline: { type: 'string' },
    // --baseline-node <path to a node binary>: the baseline's service runs on that Node (build the baseline checkout's
    // node_modules with it: npm ci there with it first on PATH), the current one on the Node running the bench.
    'baseline-node': { type: 'string' },
    stores: { type: 'string' },
    // --devices <n>: this checkout's service twice on the same store (SQLite, or PostgreSQL with DATABASE_URL set to a
    // PostgreSQL URL), side by side: receivers without devices against receivers with n devices each (bench/devices.ts);
    // --scenarios defaults to store,summary,page,ack there. Writes devices.md / devices.json (devices-postgres.*).
    // With --stores, both stores' receivers have n devices each instead (stores-devices.*).
    devices: { type: 'string' },
    // --device-bytes: on-disk bytes per message with 0, 1 and 3 devices per receiver, on SQLite and on PostgreSQL
    // (bench/device-bytes.ts, also runnable alone); --device-bytes-receivers and --device-bytes-messages size it.
    'device-bytes': { type: 'boolean', default: false },
    // --events: this checkout's service twice on the same store (as --devices), EVENTS=off against EVENTS=on, then the
    // feed read on the EVENTS=on side (bench/events.ts); --scenarios defaults to store,batch,ack there. Writes events.*.
    events: { type: 'boolean', default: false },
    // --versus a:b,...: this checkout's service twice on the run's store (as --events), one side running scenario a
    // while the other runs b, alternating in each round (bench/versus.ts): for example ack:recall, recall against an ack
    // of one message side by side. Writes versus.* (versus-postgres.*).
    versus: { type: 'string' },
    // --service-env KEY=VALUE,...: configuration for the services of the default run, --baseline, --stores, --devices, --versus and
    // --events, beyond the benchmark's own (for example EVENTS=on, to compare two checkouts with events recorded); a
    // side's own (--events) goes over it.
    'service-env': { type: 'string' },
    'device-bytes-receivers': { type: 'string', default: '1000' },
    'device-bytes-messages': { type: 'string', default: '100' },
    'postgres-url': { type: 'string' },
    // --citus-url <coordinator>: this checkout's service on plain PostgreSQL (--postgres-url) against itself on a fresh
    // database of that Citus cluster (bench/citus.ts); --scenarios defaults to store,batch,ack there. Writes citus.*.
    'citus-url': { type: 'string' },
    // --citus-shards <n>: the Citus database's citus.shard_count (Citus's default, 32, unless given).
    'citus-shards': { type: 'string' },
    // --waiters <n,...>: held long-poll requests (bench/wait.ts), that many per configuration: on SQLite, and on PostgreSQL
    // (--postgres-url's server) held on one instance and stored through another, then both on one; --wait-stores picks
    // the stores. Writes wait.md / wait.json. --wait-profile runs the services under node --cpu-prof and adds their profiles.
    waiters: { type: 'string' },
    'wait-stores': { type: 'string', default: 'sqlite,postgres' },
    'wait-profile': { type: 'boolean', default: false },
    // --wait-max-old-space <MB>: the services run with node --max-old-space-size=<MB> (V8's old-generation heap limit).
    'wait-max-old-space': { type: 'string' },
    // --no-wait-expiry: the wait benchmark's store load without the store scenario's one message in ten expiring in 2 s.
    'wait-expiry': { type: 'boolean', default: true },
    // --wait-in-flight <n>: stores in flight in the wait benchmark's wake-up stream (10, as the wakeup scenario's).
    'wait-in-flight': { type: 'string', default: '10' },
    // --costs: the CPU per request by stage of store, page, summary (5 and 50 senders) and ack, on the --cost-stores and
    // on the bare route, from CPU profiles (bench/costs.ts, issue 30). Writes costs.md / costs.json.
    costs: { type: 'boolean', default: false },
    'cost-stores': { type: 'string', default: 'sqlite,postgres' },
    // --stores, --devices, --events and --citus-url profile (--devices: the store scenario, both sides; --events: every
    // scenario, both sides; --citus-url: the Citus side);
    // --no-profile skips it.
    profile: { type: 'boolean', default: true }
  },
  allowNegative: true
})

export const DURATION = Number(args.duration)
/** --citus-shards, or undefined for Citus's default. */
export const CITUS_SHARDS = args['citus-shards'] === undefined ? undefined : Number(args['citus-shards'])
export const ROUNDS = Number(args.rounds)
export const CONNECTIONS = Number(args.connections)
/**
 * --scenarios as given, or its default: with --versus, the scenarios it pairs; with --devices alone, the four scenarios the devices issue sets its goal on; with
 * --citus-url, the three of issue 16; with --events, the three the events issue sets its goal on.
 */
export const SCENARIO_LIST = args.scenarios ?? (args.versus !== undefined ? args.versus.replaceAll(':', ',') : undefined) ??
  (args['citus-url'] !== undefined || args.events === true
    ? 'store,batch,ack'
    : args.devices !== undefined && args.stores === undefined ? 'store,summary,page,ack' : 'store,batch,summary,page,ack,expiry,wakeup')
export const SCENARIOS = SCENARIO_LIST.split(',')
export const ROW_COUNTS = String(args.rows).split(',').map(Number)
if (args.fill !== 'http' && args.fill !== 'copy') throw new Error(`--fill ${String(args.fill)}: http or copy`)
export const FILL_BY_COPY = args.fill === 'copy'
export const DATABASE_URL = process.env.DATABASE_URL
export const isPostgres = DATABASE_URL?.startsWith('postgres') === true
/** The PostgreSQL server on which --stores, --citus-url's plain side (and --baseline on PostgreSQL) create their databases. */
export const POSTGRES_URL = args['postgres-url'] ?? (isPostgres ? String(DATABASE_URL) : 'postgres://postgres@127.0.0.1:5432/postgres')

/** --service-env as an environment: KEY=VALUE pairs, comma-separated. */
export const SERVICE_ENV: Record<string, string> = Object.fromEntries((args['service-env'] ?? '').split(',').filter((pair) => pair !== '').map((pair) => {
  const at = pair.indexOf('=')
  if (at <= 0) throw new Error(`--service-env ${pair}: KEY=VALUE`)
  return [pair.slice(0, at), pair.slice(at + 1)]
}))

/** --rows, --fill and --scenarios as they were given, for a results file's command line. */
export const rowsOptions = (): string =>
  `--rows ${String(args.rows)}${FILL_BY_COPY ? ' --fill copy' : ''}${args.scenarios === undefined ? '' : ` --scenarios ${args.scenarios}`}`

/** --service-env as it was given, for a results file's command line ('' when not given). */
export const serviceEnvOption = (): string => args['service-env'] === undefined ? '' : ` --service-env ${args['service-env']}`

/** --devices: devices per receiver, 1 to 10; undefined when not given. */
export function devicesOption (): number | undefined {
  if (args.devices === undefined) return undefined
  const devices = Number(args.devices)
  if (!Number.isInteger(devices) || devices < 1 || devices > 10) {
    throw new Error(`--devices ${args.devices}: a number of devices per receiver, 1 to 10 (the service's default MAX_DEVICES_PER_RECEIVER)`)
  }
  return devices
}

export const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
export const storeKind = DATABASE_URL === undefined ? 'SQLite (defaults: WAL, each answer after an fsync of the WAL)' : isPostgres ? 'PostgreSQL' : `SQLite (${DATABASE_URL})`

/**
 * Writes `${name}.md` and `${name}.json` (`${name}-postgres.*` on PostgreSQL, unless the results cover both stores
 * whatever DATABASE_URL says) under --out, and the Markdown to stdout.
 */
export function writeResults (name: string, markdown: string, data: unknown, bothStores = false): void {
  const file = join(String(args.out), DATABASE_URL === undefined || bothStores ? name : `${name}-postgres`)
  mkdirSync(String(args.out), { recursive: true })
  writeFileSync(`${file}.md`, markdown)
  writeFileSync(`${file}.json`, JSON.stringify(data, null, 2) + '\n')
  process.stdout.write(markdown)
}
