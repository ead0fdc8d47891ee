// The Dockerfile (which cannot be built on this machine) read as text: multi-stage, production dependencies only, non-root, data volume, health check, exec-form CMD; and README's docker run agrees with it.
import { existsSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const read = (file: string): string => readFileSync(posix.join(ROOT, file), 'utf8')

interface Instruction { keyword: string, args: string, line: number }
interface Stage { image: string, name: string | undefined, instructions: Instruction[] }

/** Instructions with their continuation lines joined; comment lines (also inside continuations) dropped. */
function parseInstructions (text: string): Instruction[] {
  const instructions: Instruction[] = []
  let pending: { parts: string[], line: number } | undefined
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim()
    if (trimmed.startsWith('#') || (pending === undefined && trimmed === '')) return
    const continues = trimmed.endsWith('\\')
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed
    pending ??= { parts: [], line: index + 1 }
    pending.parts.push(part)
    if (continues) return
    const joined = pending.parts.filter((p) => p !== '').join(' ')
    const keyword = joined.split(/\s+/)[0] ?? ''
    instructions.push({ keyword: keyword.toUpperCase(), args: joined.slice(keyword.length).trim(), line: pending.line })
    pending = undefined
  })
  return instructions
}

function parseStages (instructions: Instruction[]): Stage[] {
  const stages: Stage[] = []
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'))
      const as = words.findIndex((word) => word.toLowerCase() === 'as')
      stages.push({ image: words[0] ?? '', name: as >= 0 ? words[as + 1] : undefined, instructions: [] })
    } else {
      stages.at(-1)?.instructions.push(instruction)
    }
  }
  return stages
}

/** `ENV A=1 B="two"` (or the legacy `ENV A 1`) as a map. */
function parseEnv (args: string): Record<string, string> {
  const [first = '', ...rest] = args.split(/\s+/)
  if (!first.includes('=')) return { [first]: rest.join(' ') }
  const env: Record<string, string> = {}
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    const value = match[2] ?? ''
    env[match[1] ?? ''] = /^["']/.test(value) ? value.slice(1, -1) : value
  }
  return env
}

const envOf = (stage: Stage | undefined): Record<string, string> =>
  Object.assign({}, ...(stage?.instructions ?? []).filter((i) => i.keyword === 'ENV').map((i) => parseEnv(i.args)))

function execForm (args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined
  try {
    const parsed: unknown = JSON.parse(args)
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? parsed : undefined
  } catch {
    return undefined
  }
}

/** The directory that DATABASE_URL's SQLite file lives in, e.g. `/data` for `sqlite:/data/offline-messages.db`. */
function sqliteDirectory (databaseUrl: string | undefined): string | undefined {
  const file = /^sqlite:(.+)$/.exec(databaseUrl ?? '')?.[1]
  return file === undefined || file === ':memory:' ? undefined : posix.dirname(file)
}

const PRODUCTION_INSTALL = /\bnpm\s+(ci|install|i|prune)\b[^&;|]*--(omit[= ]dev|only[= ]prod(uction)?|production)\b/
const ANY_INSTALL = /\bnpm\s+(ci|install|i|prune)\b/

const dockerfile = read('Dockerfile')
const instructions = parseInstructions(dockerfile)
const stages = parseStages(instructions)
const runtime = stages.at(-1)
const runtimeEnv = envOf(runtime)
const inRuntime = (keyword: string): Instruction[] => (runtime?.instructions ?? []).filter((i) => i.keyword === keyword)

t.test('the Dockerfile starts with a comment saying its job', async (t) => {
  t.match(dockerfile.split('\n')[0], /^#\s*\S/)
})

/** The Node version CI runs the whole suite on: the first version line of .ci/node-versions. */
const imageNode = read('.ci/node-versions').split('\n').map((line) => line.trim()).find((line) => /^\d+\.\d+\.\d+$/.test(line)) ?? ''

t.test('the image is multi-stage, every stage on the official slim image of the exact Node version CI tests', async (t) => {
  t.ok(stages.length >= 2, `at least two FROM lines (found ${stages.length})`)
  t.match(imageNode, /^(24|26)\./, `.ci/node-versions names a supported Node first (${imageNode})`)
  const exact = new RegExp(`^(docker\\.io/(library/)?)?node:${imageNode.replace(/\./g, '\\.')}(-[a-z]+)?-slim(@sha256:[0-9a-f]{64})?$`)
  for (const stage of stages) t.match(stage.image, exact, `${stage.image} is node:${imageNode}, slim`)
})

t.test('the build stage has the toolchain better-sqlite3 needs and compiles the TypeScript', async (t) => {
  const build = stages.slice(0, -1).flatMap((stage) => stage.instructions).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n')
  for (const tool of ['python3', 'make', 'g++']) {
    t.ok(new RegExp(`apt-get install[^\\n]*\\s${tool.replace('+', '\\+')}(\\s|$)`).test(build), `a build stage installs ${tool}`)
  }
  t.match(build, /\bnpm ci\b/, 'a build stage installs from the lock file')
  t.match(build, /\bnpm run build\b/, 'a build stage runs npm run build')
})

t.test('only production dependencies ship', async (t) => {
  // The runtime's node_modules come from the stage named in its COPY --from, or from an install in the runtime itself.
  const copy = inRuntime('COPY').find((i) => /node_modules/.test(i.args))
  const from = /--from=(\S+)/.exec(copy?.args ?? '')?.[1]
  const source = from === undefined
    ? runtime
    : stages.find((stage) => stage.name === from) ?? stages[Number(from)]
  const installs = (source?.instructions ?? []).filter((i) => i.keyword === 'RUN')
    .flatMap((i) => i.args.split(/&&|;/)).filter((command) => ANY_INSTALL.test(command))
  t.ok(source, 'the runtime gets node_modules from a stage of this Dockerfile')
  t.match(installs.at(-1) ?? '', PRODUCTION_INSTALL,
    'the last npm ci/install/prune before node_modules ship omits dev dependencies (npm ci --omit=dev or npm prune --omit=dev)')
  const fromContext = [...inRuntime('COPY'), ...inRuntime('ADD')].filter((i) => !/--from=/.test(i.args))
  t.same(fromContext.map((i) => i.args), [], 'the runtime copies only from the build stage: no sources, no local node_modules')
})

t.test('the service runs as a non-root user', async (t) => {
  const user = inRuntime('USER').at(-1)?.args.split(':')[0]
  t.ok(user, 'the runtime stage sets USER')
  t.notOk(user === 'root' || user === '0', `USER ${user ?? '(none)'} is not root`)
})

t.test('the runtime environment is production, listening on all interfaces, with the SQLite file on a volume', async (t) => {
  t.equal(runtimeEnv.NODE_ENV, 'production')
  t.equal(runtimeEnv.HOST, '0.0.0.0')
  t.match(runtimeEnv.PORT ?? '', /^\d+$/, 'ENV PORT is a number')
  const dataDir = sqliteDirectory(runtimeEnv.DATABASE_URL)
  t.ok(dataDir !== undefined && dataDir.startsWith('/'), `DATABASE_URL (${runtimeEnv.DATABASE_URL ?? 'unset'}) is an SQLite file at an absolute path`)
  const volumes = inRuntime('VOLUME').flatMap((i) => execForm(i.args) ?? i.args.split(/\s+/))
  t.ok(dataDir !== undefined && volumes.includes(dataDir), `VOLUME includes ${dataDir ?? 'the data directory'} (found ${volumes.join(', ') || 'none'})`)
  // Docker discards changes made to a volume's directory after VOLUME, so the chown must come first.
  const user = inRuntime('USER').at(-1)?.args.split(':')[0] ?? '(no USER)'
  const chown = inRuntime('RUN').find((i) => new RegExp(`chown\\s+(-R\\s+)?${user}(:\\S+)?\\s[^&;]*${dataDir ?? '(no data dir)'}(\\s|$)`).test(i.args))
  t.ok(chown, `a RUN gives ${dataDir ?? 'the data directory'} to ${user}`)
  const volume = inRuntime('VOLUME')[0]
  t.ok(chown !== undefined && volume !== undefined && chown.line < volume.line, 'the data directory is owned before VOLUME declares it')
})

t.test('EXPOSE matches ENV PORT', async (t) => {
  const exposed = inRuntime('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((port) => port.replace(/\/tcp$/, ''))
  t.ok(runtimeEnv.PORT, 'ENV PORT is set')
  t.same(exposed, [runtimeEnv.PORT], `EXPOSE ${exposed.join(' ')} is ENV PORT ${runtimeEnv.PORT ?? '(unset)'}`)
})

t.test('the HEALTHCHECK asks /healthz with node itself', async (t) => {
  const healthcheck = inRuntime('HEALTHCHECK').at(-1)?.args ?? ''
  const command = /(?:^|\s)CMD\s+(.*)$/s.exec(healthcheck)?.[1] ?? ''
  t.ok(command !== '', 'the runtime stage has a HEALTHCHECK CMD')
  t.match(command, /\/healthz\b/, 'it calls /healthz')
  const argv = execForm(command)
  t.equal(argv?.[0] ?? command.split(/\s+/)[0], 'node', 'it runs node (slim images have no curl or wget)')
  t.notMatch(command, /\b(curl|wget)\b/)
})

t.test('CMD is exec form and starts node directly: SIGTERM reaches the service', async (t) => {
  const cmd = inRuntime('CMD').at(-1)
  const argv = execForm(cmd?.args ?? '')
  t.ok(argv, `CMD is a JSON array (found ${cmd?.args ?? 'no CMD'})`)
  t.equal(argv?.[0], 'node', 'CMD starts with "node", not npm or a shell')
  t.notOk(argv?.some((word) => /^(npm|npx|sh|bash|\/bin\/sh|-c)$/.test(word)), 'no npm and no sh -c in CMD')
  const start = (JSON.parse(read('package.json')) as { scripts?: Record<string, string> }).scripts?.start ?? ''
  const [, assignments = '', command = ''] = /^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)node\s+(.*)$/.exec(start) ?? []
  t.equal(argv?.slice(1).join(' '), command, `CMD runs what npm start runs (${start})`)
  // npm start's environment (MALLOC_ARENA_MAX) is the image's too, set by ENV in the runtime stage.
  const startEnv = Object.fromEntries(assignments.trim().split(/\s+/).filter((word) => word !== '').map((word) => word.split('=')))
  t.ok(Object.keys(startEnv).length > 0, 'npm start sets the service\'s environment (MALLOC_ARENA_MAX)')
  for (const [name, value] of Object.entries(startEnv)) t.equal(runtimeEnv[name], value, `the image sets ${name}=${value} as npm start does`)
  const entrypoint = inRuntime('ENTRYPOINT').at(-1)
  t.notOk(entrypoint !== undefined && !execForm(entrypoint.args), 'no shell-form ENTRYPOINT wraps it')
})

t.test('the Dockerfile says why the service refuses to start without API_KEYS', async (t) => {
  t.match(dockerfile, /^#.*API_KEYS/m)
})

t.test('.dockerignore keeps local installs, builds, data, history and test outputs out of the context', async (t) => {
  const ignored = read('.dockerignore').split(/\r?\n/).map((line) => line.trim().replace(/^\/|\/$/g, ''))
  t.match(ignored[0] ?? '', /^#\s*\S/, 'it starts with a comment saying its job')
  for (const entry of ['node_modules', 'dist', 'data', '.git', '.tap', 'coverage']) {
    t.ok(ignored.includes(entry), `${entry} is ignored`)
  }
})

/** Each `docker run` command line in README.md, with its continuation lines joined. */
function dockerRunCommands (readme: string): string[] {
  const lines = readme.split(/\r?\n/)
  const commands: string[] = []
  lines.forEach((line, index) => {
    // A command line (maybe after a `$ ` prompt), not prose that mentions docker run.
    if (!/^\s*(\$\s*)?(sudo\s+)?docker\s+run\b/.test(line)) return
    let command = line
    for (let next = index + 1; /\\\s*$/.test(command) && next < lines.length; next++) command = command.replace(/\\\s*$/, ' ') + (lines[next] ?? '')
    commands.push(command.replace(/\s+/g, ' ').trim())
  })
  return commands
}

t.test("README's docker run example uses the image's port and data volume, and passes API_KEYS", async (t) => {
  const port = runtimeEnv.PORT
  const dataDir = sqliteDirectory(runtimeEnv.DATABASE_URL)
  t.ok(port, 'the Dockerfile sets the port the example must publish')
  t.ok(dataDir, 'the Dockerfile sets the data directory the example must mount')
  // README.md is another engineer's file. Until it has a `docker run` line there is nothing to compare,
  // so nothing is asserted about it; once it has one, every example must agree with the Dockerfile.
  const readme = existsSync(posix.join(ROOT, 'README.md')) ? read('README.md') : ''
  const commands = dockerRunCommands(readme)
  if (commands.length === 0) t.comment('README.md has no `docker run` example yet: nothing to check there')
  for (const command of commands) {
    const ownPort = /(?:-e|--env)[ =]PORT=(\d+)/.exec(command)?.[1] ?? port
    const ownDataDir = sqliteDirectory(/(?:-e|--env)[ =]["']?DATABASE_URL=([^\s"']+)/.exec(command)?.[1]) ?? dataDir
    const published = [...command.matchAll(/(?:-p|--publish)[ =]["']?(\S+?)["']?(?=\s|$)/g)]
      .map((match) => (match[1] ?? '').replace(/\/tcp$/, '').split(':').at(-1))
    const mounted = [
      ...[...command.matchAll(/(?:-v|--volume)[ =]["']?(\S+?)["']?(?=\s|$)/g)].map((match) => (match[1] ?? '').split(':')[1]),
      ...[...command.matchAll(/--mount[ =]["']?(\S+?)["']?(?=\s|$)/g)].map((match) => /(?:^|,)(?:target|destination|dst)=([^,]+)/.exec(match[1] ?? '')?.[1])
    ]
    t.ok(published.includes(ownPort), `README \`${command}\` publishes container port ${ownPort ?? '?'}`)
    t.ok(mounted.includes(ownDataDir), `README \`${command}\` mounts a volume at ${ownDataDir ?? '?'}`)
    t.match(command, /(?:-e|--env)[ =]["']?API_KEYS\b/, `README \`${command}\` passes API_KEYS (the image refuses to start without it)`)
  }
})
