// The client as another service gets it: npm pack, npm install of the tarball in a scratch project, docs/client.md's
// examples (pull.mjs, watch.mjs, events.mjs) type-checked and run against the real service (EVENTS=on), the client README's examples and the compile-time checks
// (ack body, device_id, the device calls, watch, events) type-checked against the packed types.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { KEYS } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)
const secret = (entry: string) => entry.split(':')[1] ?? ''
/** The compile-time tests in test/client, each checked against the packed types. */
const TYPE_TESTS = ['ack-body', 'device-id', 'events']

/** The environment of the npm and node children, without what `npm test` sets for its own run (npm_config_*, ...). */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')))

/** A README's examples: the js blocks that import the package. */
function readmeExamples (readme: string): string[] {
  const blocks = [...readFileSync(join(ROOT, readme), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  return blocks.filter((block) => block.includes("from '@offline-messages/client'"))
}

/** TypeScript's errors as file:line, from tsc's "file(line,col): error TS..." lines. */
function errorLines (output: string): string[] {
  return [...output.matchAll(/^([^\s(]+)\((\d+),\d+\): error TS\d+/gm)].map((match) => `${match[1]}:${match[2]}`)
}

t.test('the packed client installs into another project, type-checks there, and its README examples run against the service', { timeout: 300_000 }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'om-client-'))
  t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })

  // npm pack runs the package's prepare script, so the tarball holds a fresh build. It packs a copy of client/ (its
  // node_modules the repository's): both stores' runs go at once, and two builds into one client/dist race, one run
  // packing the other's half-written .d.ts.
  const source = join(scratch, 'client')
  cpSync(join(ROOT, 'client'), source, { recursive: true, filter: (path) => !path.startsWith(join(ROOT, 'client', 'dist')) })
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: source, env: childEnv })
  const [tarball] = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = tarball?.files.map((file) => file.path).sort() ?? []
  const modules = ['calls', 'events', 'index', 'long-poll', 'pull-all', 'schema', 'types', 'watch'].flatMap((name) => [`dist/${name}.d.ts`, `dist/${name}.js`])
  t.same(files, ['LICENSE', 'README.md', ...modules, 'package.json'],
    'the tarball holds the built JS, its types, package.json, the README and the LICENSE')

  const project = join(scratch, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, tarball?.filename ?? '')], { cwd: project, env: childEnv })
  const installed = JSON.parse(readFileSync(join(project, 'node_modules/@offline-messages/client/package.json'), 'utf8')) as { name: string }
  t.equal(installed.name, '@offline-messages/client', 'installed from the tarball')
  t.equal(readFileSync(join(project, 'node_modules/@offline-messages/client/LICENSE'), 'utf8'), readFileSync(join(ROOT, 'LICENSE'), 'utf8'),
    "the package's LICENSE is the repository's")

  const [pullExample, watchExample, eventsExample, ...more] = readmeExamples('docs/client.md')
  t.ok(eventsExample !== undefined && more.length === 0, 'docs/client.md has three examples: pull.mjs, watch.mjs, events.mjs')
  t.same(readmeExamples('README.md'), [], 'README.md points to them')
  const examples = { pull: pullExample ?? '', watch: watchExample ?? '', events: eventsExample ?? '' }
  for (const [name, example] of Object.entries(examples)) {
    writeFileSync(join(project, `${name}.mjs`), example)
    writeFileSync(join(project, `${name}.mts`), example)
  }
  const clientExamples = readmeExamples('client/README.md')
  t.equal(clientExamples.length, 4, "client/README.md's examples: the import, watch(), events(), a phone and a laptop")
  clientExamples.forEach((example, index) => { writeFileSync(join(project, `client-readme-${index}.mts`), example) })
  // Each type test as is, and with each @ts-expect-error blanked (line numbers kept): every line that followed one must be an error.
  const directives: string[] = []
  for (const name of TYPE_TESTS) {
    const typeTests = readFileSync(join(ROOT, `test/client/${name}.types.ts`), 'utf8').replace("'../../client/src/index.js'", "'@offline-messages/client'")
    t.not(typeTests.indexOf("'@offline-messages/client'"), -1, `${name}.types.ts imports the package`)
    writeFileSync(join(project, `${name}.mts`), typeTests)
    writeFileSync(join(project, `${name}-unmarked.mts`), typeTests.replace(/\/\/ @ts-expect-error.*/g, '//'))
    directives.push(...typeTests.split('\n').flatMap((line, index) => /\/\/ @ts-expect-error/.test(line) ? [`${name}-unmarked.mts:${index + 2}`] : []))
  }
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')]
    },
    files: [
      ...Object.keys(examples).map((name) => `${name}.mts`),
      ...clientExamples.map((_, index) => `client-readme-${index}.mts`),
      ...TYPE_TESTS.flatMap((name) => [`${name}.mts`, `${name}-unmarked.mts`])
    ]
  }))
  const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, env: childEnv })
    .then(() => '', (error: { stdout?: string }) => error.stdout ?? String(error))
  const errors = errorLines(tsc)
  const unmarked = (line: string) => /^[a-z-]+-unmarked\.mts:/.test(line)
  t.same(errors.filter((line) => !unmarked(line)), [],
    'the READMEs\' examples and the type tests compile against the packed types (each @ts-expect-error is an error there)')
  t.same(errors.filter(unmarked).sort(), [...directives].sort(), 'without the directives, exactly the marked lines are errors')
  t.ok(directives.length >= 18, `the type tests mark their errors (${directives.length})`)

  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), EVENTS: 'on' })
  const env = { ...childEnv, OFFLINE_MESSAGES_URL: service.url, ROUTER_KEY: secret(KEYS.router), GATEWAY_KEY: secret(KEYS.gateway), EVENTS_KEY: secret(KEYS.admin) }
  const first = await run(process.execPath, ['pull.mjs'], { cwd: project, env })
  t.equal(first.stdout, '201 1 false\nalice to bob: see you at 8? (alice-0001, seq 1)\n{ pages: 1, delivered: 1, acked: 1 }\n',
    'the first run stores alice-0001, hands it over and acks it')
  const second = await run(process.execPath, ['pull.mjs'], { cwd: project, env })
  t.equal(second.stdout, '200 1 true\n{ pages: 0, delivered: 0, acked: 0 }\n', 'a second run is a duplicate (the tombstone), with nothing to pull')

  const followed = await run(process.execPath, ['events.mjs'], { cwd: project, env })
  t.equal(followed.stdout, "message.stored alice-0001 (bob has 1 pending)\ntick: alice's alice-0001 reached bob\nstopped\n",
    'events.mjs: the store and the ack of alice-0001, then the signal stops it')
  const resumed = await run(process.execPath, ['events.mjs'], { cwd: project, env })
  t.equal(resumed.stdout, 'stopped\n', 'a second run resumes from the saved cursor: nothing again')

  const watched = await run(process.execPath, ['watch.mjs'], { cwd: project, env })
  const [phone, laptop, devices, ...rest] = watched.stdout.split('\n')
  t.same([[phone, laptop].sort(), devices, rest], [['laptop: alice says lunch?', 'phone: alice says lunch?'], "[ 'phone 0', 'laptop 0' ]", ['']],
    'watch.mjs: each device gets the message through watch and acks it for itself')
})
