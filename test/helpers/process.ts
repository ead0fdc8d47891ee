// Starts the real service as a child process (its own process group) and learns its port from the "listening" log line.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { API_KEYS } from './app.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * How node runs a module of the package (src/server.ts, src/migrate.ts, ...): from dist/ when scripts/run-tests.ts has
 * just built it from these sources (TEST_DIST_BUILT=1), so that a start does not compile the sources again through
 * tsx; otherwise (a file run by tap directly) the sources through tsx, so that a stale dist/ is never what is tested.
 */
export function entryPoint (script: string): { nodeArgs: string[], file: string } {
  if (process.env.TEST_DIST_BUILT === '1') return { nodeArgs: [], file: `dist/${script.replace(/\.ts$/, '.js')}` }
  return { nodeArgs: ['--import', 'tsx'], file: script }
}

const entryArgs = (script: string): string[] => {
  const { nodeArgs, file } = entryPoint(script)
  return [...nodeArgs, file]
}

export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Everything the process wrote to stdout and stderr so far. */
  output (): string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>
  /** Sends a signal to the whole process group. */
  signal (signal: NodeJS.Signals): void
  stop (): Promise<number | string>
}

interface Tap { teardown (fn: () => unknown): void }

/**
 * Starts `src/server.ts` with the given environment (HOST 127.0.0.1, PORT 0 and the test keys unless overridden), and
 * node given `nodeArgs` first.
 */
export async function startService (t: Tap, env: Record<string, string>, options: { timeoutMs?: number, nodeArgs?: string[] } = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...options.nodeArgs ?? [], ...entryArgs('src/server.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', API_KEYS, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') })
  })
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name)
    } catch { /* already gone */ }
  }
  const stop = async () => {
    signal('SIGTERM')
    const timer = setTimeout(() => { signal('SIGKILL') }, 10_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      signal('SIGKILL')
      await exited
    }
  })

  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  while (Date.now() < deadline) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
    if (match?.[1] !== undefined) {
      return { child, url: match[1], output: () => output, exited, signal, stop }
    }
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} before listening:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  signal('SIGKILL')
  throw new Error(`service did not start listening in time:\n${output}`)
}

/**
 * Runs the service (or another entry point of the package, such as src/migrate.ts) expecting it to refuse to run;
 * resolves with its exit code and output.
 */
export async function startExpectingFailure (env: Record<string, string>, script = 'src/server.ts'): Promise<{ code: number | string, output: string }> {
  const child = spawn(process.execPath, entryArgs(script), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await new Promise<number | string>((resolve) => {
    child.on('exit', (exitCode, signal) => { resolve(exitCode ?? signal ?? 'unknown') })
  })
  clearTimeout(timer)
  return { code, output }
}
