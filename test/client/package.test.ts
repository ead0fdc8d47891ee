// The client as another service gets it: npm pack, npm install of the tarball in a scratch project, the README's
// example type-checked and run against the real service, and the compile-time ack checks against the packed types.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/** The environment of the npm and node children, without what `npm test` sets for its own run (npm_config_*, ...). */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')))

/** The README's example: the js block that imports the package. */
function readmeExample (): string {
  const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  const example = blocks.find((block) => block.includes("from '@offline-messages/client'"))
  if (example === undefined) throw new Error("README.md has no js block importing '@offline-messages/client'")
  return example
}

/** TypeScript's errors as file:line, from tsc's "file(line,col): error TS..." lines. */
function errorLines (output: string): string[] {
  return [...output.matchAll(/^([^\s(]+)\((\d+),\d+\): error TS\d+/gm)].map((match) => `${match[1]}:${match[2]}`)
}

t.test('the packed client installs into another project, type-checks there, and its README example runs against the service', { timeout: 300_000 }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'om-client-'))
  t.teardown(() => { rmSync(scratch, { recursive: true, force: true }) })

  // npm pack runs the package's prepare script, so the tarball holds a fresh build.
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: join(ROOT, 'client'), env: childEnv })
  const [tarball] = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = tarball?.files.map((file) => file.path).sort() ?? []
  t.same(files, ['README.md', 'dist/index.d.ts', 'dist/index.js', 'dist/schema.d.ts', 'dist/schema.js', 'package.json'],
    'the tarball holds the built JS, its types, package.json and the README')

  const project = join(scratch, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, tarball?.filename ?? '')], { cwd: project, env: childEnv })
  const installed = JSON.parse(readFileSync(join(project, 'node_modules/@offline-messages/client/package.json'), 'utf8')) as { name: string }
  t.equal(installed.name, '@offline-messages/client', 'installed from the tarball')

  const example = readmeExample()
  writeFileSync(join(project, 'pull.mjs'), example)
  writeFileSync(join(project, 'pull.mts'), example)
  const typeTests = readFileSync(join(ROOT, 'test/client/ack-body.types.ts'), 'utf8').replace("'../../client/src/index.js'", "'@offline-messages/client'")
  t.not(typeTests.indexOf("'@offline-messages/client'"), -1, 'the ack type tests import the package')
  writeFileSync(join(project, 'ack-body.mts'), typeTests)
  // The same file with each @ts-expect-error blanked (line numbers kept): every line that followed one must be an error.
  const directives = typeTests.split('\n').flatMap((line, index) => /\/\/ @ts-expect-error/.test(line) ? [index + 2] : [])
  writeFileSync(join(project, 'ack-body-unmarked.mts'), typeTests.replace(/\/\/ @ts-expect-error.*/g, '//'))
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
    files: ['pull.mts', 'ack-body.mts', 'ack-body-unmarked.mts']
  }))
  const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, env: childEnv })
    .then(() => '', (error: { stdout?: string }) => error.stdout ?? String(error))
  const errors = errorLines(tsc)
  t.same(errors.filter((line) => !line.startsWith('ack-body-unmarked.mts:')), [],
    'the README example and the ack type tests compile against the packed types (each @ts-expect-error is an error there)')
  t.same(errors.filter((line) => line.startsWith('ack-body-unmarked.mts:')), directives.map((line) => `ack-body-unmarked.mts:${line}`),
    'without the directives, exactly the marked lines are errors')
  t.ok(directives.length >= 8, `the type tests mark their errors (${directives.length})`)

  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const env = { ...childEnv, OFFLINE_MESSAGES_URL: service.url, ROUTER_KEY: secret(KEYS.router), GATEWAY_KEY: secret(KEYS.gateway) }
  const first = await run(process.execPath, ['pull.mjs'], { cwd: project, env })
  t.equal(first.stdout, '201 1 false\nalice to bob: see you at 8? (alice-0001, seq 1)\n{ pages: 1, delivered: 1, acked: 1 }\n',
    'the first run stores alice-0001, hands it over and acks it')
  const second = await run(process.execPath, ['pull.mjs'], { cwd: project, env })
  t.equal(second.stdout, '200 1 true\n{ pages: 0, delivered: 0, acked: 0 }\n', 'a second run is a duplicate (the tombstone), with nothing to pull')
})
