// A private PostgreSQL 15 cluster for one test file (own temp data dir, free port on 127.0.0.1, trust auth) that the test may stop and start at will.
import { execFile, execFileSync } from 'node:child_process'
import { appendFileSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin'
const OS_USER = 'postgres'

export interface PrivatePostgres {
  readonly port: number
  readonly dataDir: string
  /** A DATABASE_URL for a database of this cluster (`postgres` unless named). */
  url (database?: string): string
  /** Starts the server and waits until it accepts connections. */
  start (): Promise<void>
  /** Stops it at once, like a crash (`pg_ctl stop -m immediate`). */
  stop (): Promise<void>
  running (): boolean
  /** Freezes every server process (SIGSTOP): sockets stay open and nothing answers, as in a network partition. */
  freeze (): void
  /** Lets a frozen server run again (SIGCONT). */
  thaw (): void
  /** The server's log so far (for failure messages). */
  log (): string
}

interface Tap { teardown (fn: () => unknown): void }

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

function osUserIds (name: string): { uid: number, gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** initdb refuses to run as root: when we are root, every PostgreSQL binary runs as the postgres OS user. */
function asPostgres (binary: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, binary)
  return process.getuid?.() === 0 ? ['runuser', ['-u', OS_USER, '--', path, ...args]] : [path, args]
}

async function pg (binary: string, args: string[], timeoutMs: number): Promise<string> {
  const [file, argv] = asPostgres(binary, args)
  const { stdout, stderr } = await run(file, argv, { timeout: timeoutMs, encoding: 'utf8' })
  return stdout + stderr
}

function pgSync (binary: string, args: string[], timeoutMs: number): void {
  const [file, argv] = asPostgres(binary, args)
  execFileSync(file, argv, { timeout: timeoutMs, stdio: 'ignore' })
}

/** Creates and starts a private cluster; teardown stops it (immediate) and removes its directory. */
export async function startPrivatePostgres (t: Tap): Promise<PrivatePostgres> {
  const root = mkdtempSync(join(tmpdir(), 'om-private-pg-'))
  if (process.getuid?.() === 0) {
    const { uid, gid } = osUserIds(OS_USER)
    chownSync(root, uid, gid)
  }
  const dataDir = join(root, 'data')
  const logFile = join(root, 'server.log')
  const port = await freePort()
  let isRunning = false
  let frozen: number[] = []

  const postmasterPid = (): number => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const childrenOf = (pid: number): number[] => {
    try {
      return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter((line) => line.trim() !== '').map(Number)
    } catch {
      return []
    }
  }
  const thaw = () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch { /* gone */ }
    }
    frozen = []
  }

  const stopSync = () => {
    thaw()
    if (!isRunning) return
    try {
      pgSync('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '20'], 30_000)
    } catch { /* already gone */ }
    isRunning = false
  }
  // A test process that dies without its teardown must not leave a server behind.
  const onExit = () => {
    stopSync()
    rmSync(root, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  t.teardown(() => {
    process.removeListener('exit', onExit)
    onExit()
  })

  await pg('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale', 'C', '--no-sync', '--no-instructions'], 120_000)
  appendFileSync(join(dataDir, 'postgresql.conf'), [
    '',
    '# private test cluster',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${root}'`,
    'max_connections = 40',
    'shared_buffers = 16MB',
    ''
  ].join('\n'))

  const instance: PrivatePostgres = {
    port,
    dataDir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start () {
      try {
        await pg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60'], 90_000)
      } catch (error) {
        throw new Error(`private PostgreSQL did not start on port ${port}: ${String(error)}\n${instance.log()}`)
      }
      isRunning = true
    },
    async stop () {
      thaw()
      await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], 60_000)
      isRunning = false
    },
    running: () => isRunning,
    freeze () {
      // The postmaster first, so that no new backend is forked while the others are stopped.
      const postmaster = postmasterPid()
      process.kill(postmaster, 'SIGSTOP')
      frozen.push(postmaster)
      for (const pid of childrenOf(postmaster)) {
        process.kill(pid, 'SIGSTOP')
        frozen.push(pid)
      }
    },
    thaw,
    log () {
      try {
        return readFileSync(logFile, 'utf8')
      } catch {
        return ''
      }
    }
  }
  await instance.start()
  return instance
}
