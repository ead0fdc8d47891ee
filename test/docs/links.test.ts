// Every relative link of the docs resolves: the file exists, and an #anchor matches one of its headings as GitHub
// makes them (lower case, punctuation dropped, spaces to hyphens).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { headingSlugs, linkTargets } from '../helpers/markdown.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The documents a newcomer reads: the README, docs/, the benchmarks' and the client's READMEs. */
export function documents (root = ROOT): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(root, 'docs', name))
  return [join(root, 'README.md'), ...docs, join(root, 'bench', 'README.md'), join(root, 'client', 'README.md')]
}

/** The links of one document that do not resolve, each with the reason. */
export function brokenLinks (file: string, read: (path: string) => string = (path) => readFileSync(path, 'utf8')): string[] {
  const broken: string[] = []
  for (const target of linkTargets(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
    const [path = '', anchor] = target.split('#', 2)
    const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path))
    if (!existsSync(resolved)) { broken.push(`${target}: no file ${relative(ROOT, resolved)}`); continue }
    if (anchor === undefined) continue
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) { broken.push(`${target}: an anchor into something that is not Markdown`); continue }
    if (!headingSlugs(read(resolved)).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, resolved)}`)
  }
  return broken
}

t.test('every relative link and anchor of the docs resolves', async (t) => {
  for (const file of documents()) {
    t.ok(existsSync(file), `${relative(ROOT, file)} exists`)
    t.strictSame(brokenLinks(file), [], `${relative(ROOT, file)}: every relative link resolves`)
  }
})

t.test('a broken file link and a broken anchor are both found', async (t) => {
  const readme = join(ROOT, 'README.md')
  const text = readFileSync(readme, 'utf8')
  t.ok(linkTargets(text).length > 10, 'the README has links to check')
  const withBroken = text + '\n[gone](docs/no-such-file.md) [gone too](docs/operations.md#no-such-heading) [here](#no-such-section)\n'
  const broken = brokenLinks(readme, (path) => path === readme ? withBroken : readFileSync(path, 'utf8'))
  t.equal(broken.length, 3, 'three broken links found')
  t.match(broken.join('\n'), /no file docs\/no-such-file\.md/)
  t.match(broken.join('\n'), /no heading #no-such-heading in docs\/operations\.md/)
  t.match(broken.join('\n'), /no heading #no-such-section in README\.md/)
})

t.test('anchors are GitHub slugs of the headings', async (t) => {
  const slugs = headingSlugs('# Scaling out: Citus\n## Slow, stalled and idle callers\n## `wait_seconds` and X\n## Tests\n## Tests\n```\n# not a heading\n```\n')
  t.strictSame([...slugs], ['scaling-out-citus', 'slow-stalled-and-idle-callers', 'wait_seconds-and-x', 'tests', 'tests-1'])
})
