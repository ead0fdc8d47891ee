// The README's examples of a bad configuration, run as shown: each `$ VAR=value npm start` line of the Configuration
// section starts the real process with that environment, which must refuse with exactly the line shown under it.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { section } from '../helpers/markdown.js'
import { startExpectingFailure } from '../helpers/process.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const configuration = section(readFileSync(`${ROOT}/README.md`, 'utf8'), '## Configuration')
const block = /```\n(\$ [\s\S]*?)```/.exec(configuration)?.[1] ?? ''

/** Each `$ NAME=value npm start` with the line it printed. */
const examples = [...block.matchAll(/^\$ ((?:[A-Z_]+=\S+ )+)npm start\n(.+)$/gm)].map((match) => ({
  env: Object.fromEntries((match[1] ?? '').trim().split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
  shown: match[2] ?? ''
}))

t.test("the README's configuration errors are the ones the service prints", async (t) => {
  t.ok(examples.length >= 3, `the Configuration section shows its examples (${examples.length})`)
  for (const { env, shown } of examples) {
    // The README's examples start from the defaults: no keys unless the line sets them.
    const { code, output } = await startExpectingFailure({ API_KEYS: '', DATABASE_URL: 'sqlite::memory:', ...env })
    t.equal(code, 1, `${JSON.stringify(env)}: exit code 1`)
    t.equal(output.trim(), shown, `${JSON.stringify(env)}: prints the line the README shows`)
  }
})
