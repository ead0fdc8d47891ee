// The curl walkthrough of README.md and docs/walkthrough.md, run as a reader would: every command through bash, in
// order, against the real service on a fresh database, restarted where the text says, each output compared with the
// one shown (times and generated ids masked, JSON compared as values).
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { createTestDatabase, horizonPassed } from '../helpers/database.js'
import { section, walkthroughSteps, type WalkthroughStep } from '../helpers/markdown.js'
import { startService, type ServiceProcess } from '../helpers/process.js'

// The walkthrough takes 20-40 s (four starts of the service, a 2 s sleep, a 2 s wait): beyond tap's default 30 s.
t.setTimeout(180_000)

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const read = (path: string) => readFileSync(`${ROOT}/${path}`, 'utf8')

/** Both parts, in the order a reader follows them: the README's, then docs/walkthrough.md's on the same service. */
export function allSteps (): Array<{ file: string, step: WalkthroughStep }> {
  const readme = walkthroughSteps(section(read('README.md'), '## Walkthrough with curl'))
  const more = walkthroughSteps(read('docs/walkthrough.md'))
  return [
    ...readme.map((step) => ({ file: 'README.md', step })),
    ...more.map((step) => ({ file: 'docs/walkthrough.md', step }))
  ]
}

const TIME = /\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)/g
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g
const mask = (text: string) => text.replace(TIME, '<time>').replace(UUID, '<uuid>')

/** The shown output as one line: the README wraps long JSON between tokens and indents the continuation. */
const joinLines = (text: string) => text.split('\n').map((line) => line.trim()).join('')

interface Printed { status?: string, body: string }

function splitShown (expected: string): Printed {
  const match = /^(HTTP\/1\.1 [^\n]*)(?:\n\n([\s\S]*))?$/.exec(expected)
  if (match !== null) return { status: match[1], body: joinLines(match[2] ?? '') }
  return { body: joinLines(expected) }
}

function splitActual (stdout: string, withStatus: boolean): Printed {
  if (!withStatus) return { body: stdout.trim() }
  const text = stdout.replace(/\r\n/g, '\n')
  const headEnd = text.indexOf('\n\n')
  const head = headEnd === -1 ? text : text.slice(0, headEnd)
  return { status: head.split('\n')[0], body: headEnd === -1 ? '' : text.slice(headEnd + 2).trim() }
}

/** Compares one output: the status line as it is; the body as JSON values after masking, or by pattern where … elides. */
function compareOutput (t: Test, where: string, expected: string, stdout: string): void {
  const shown = splitShown(expected)
  const actual = splitActual(stdout, shown.status !== undefined)
  let ok = true
  if (shown.status !== undefined) ok = t.equal(actual.status, shown.status, `${where}: status line`)
  const shownBody = mask(shown.body)
  const actualBody = mask(actual.body)
  if (shownBody.includes('…')) {
    const pattern = new RegExp('^' + shownBody.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?') + '$')
    ok = t.match(actualBody, pattern, `${where}: body matches the shown one (… elides)`) && ok
  } else if (shownBody === '' || actualBody === '') {
    ok = t.equal(actualBody, shownBody, `${where}: body`) && ok
  } else {
    let actualValue: unknown
    let shownValue: unknown
    try { actualValue = JSON.parse(actualBody) } catch { actualValue = actualBody }
    try { shownValue = JSON.parse(shownBody) } catch { shownValue = shownBody }
    ok = t.strictSame(actualValue, shownValue, `${where}: body`) && ok
  }
  if (!ok) t.comment(`${where}: what it printed:\n${stdout}`)
}

interface Running { child: ChildProcess, done: Promise<{ code: number | null, stdout: string, stderr: string }> }

function bash (script: string): Running {
  const child = spawn('bash', ['-c', script], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const done = new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
    child.on('exit', (code) => { resolve({ code, stdout, stderr }) })
  })
  return { child, done }
}

async function waitersHeld (url: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const metrics = await (await fetch(`${url}/metrics`)).text()
    if (new RegExp(`^offline_messages_waiters ${count}$`, 'm').test(metrics)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`the service never held ${count} request(s)`)
}

t.test('every command of the walkthrough, run in order as a reader types it, prints what the docs show', { timeout: 180_000 }, async (t) => {
  const steps = allSteps()
  t.ok(steps.filter(({ step }) => step.kind === 'command').length >= 40, 'the walkthrough has its commands')
  const databaseUrl = await createTestDatabase(t, { file: true })
  const setup: string[] = []
  let service: ServiceProcess | undefined
  let background: { running: Running, where: string } | undefined
  // The walkthrough runs without keys unless a start line sets them; DATABASE_URL is this test's fresh database.
  const start = async (env: Record<string, string>) => {
    if (service !== undefined) t.equal(await service.stop(), 0, 'the service stops with exit code 0 (Ctrl-C)')
    service = await startService(t, { API_KEYS: '', ...env, DATABASE_URL: databaseUrl })
  }
  let index = 0
  for (const { file, step } of steps) {
    index++
    if (step.kind === 'setup') { setup.push(step.line); continue }
    if (step.kind === 'start') { await start(step.env); continue }
    if (step.kind === 'background-output') {
      if (background === undefined) { t.fail(`${file}: an output block for a background command, but none runs`); continue }
      const result = await background.running.done
      compareOutput(t, background.where, step.expected, result.stdout)
      background = undefined
      continue
    }
    if (service === undefined) await start({})
    const url = (service as ServiceProcess).url
    const where = `${file}, step ${index}: $ ${step.command.split('\n')[0] ?? ''}`
    // On PostgreSQL the feed serves an event once every older transaction of the cluster has ended, and other test
    // files run theirs beside this one: the feed's commands run once what the steps before committed is past that.
    if (step.command.includes('/v1/events')) await horizonPassed(databaseUrl)
    const running = bash([...setup, `B=${url}`, step.command].join('\n'))
    if (step.background) {
      background = { running, where }
      await waitersHeld(url, 1)
      continue
    }
    const result = await running.done
    t.equal(result.code, 0, `${where}: exits 0${result.stderr === '' ? '' : `: ${result.stderr}`}`)
    compareOutput(t, where, step.expected, result.stdout)
  }
  t.equal(background, undefined, 'every background command had its output shown')
  t.ok(service !== undefined && await service.stop() === 0, 'the service stops with exit code 0')
})
