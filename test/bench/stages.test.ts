// The cost table's classifier (bench/stages.ts) on a hand-made CPU profile: the innermost frame a rule names decides.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { stagesOf, type Stage } from '../../bench/stages.js'

const ROOT = '/checkout'
const modules = (path: string) => `file://${ROOT}/node_modules/${path}`
const source = (path: string) => `file://${ROOT}/dist/${path}`

/** Stacks, outermost frame first, each as [functionName, url]; each stack is sampled once, 1 ms apart. */
function profileOf (stacks: Array<Array<[string, string]>>): object {
  const nodes = [{ id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [] as number[] }]
  const samples: number[] = []
  for (const stack of stacks) {
    let parent = nodes[0] as typeof nodes[number]
    for (const [functionName, url] of stack) {
      const node = { id: nodes.length + 1, callFrame: { functionName, url, lineNumber: 0 }, children: [] as number[] }
      parent.children.push(node.id)
      nodes.push(node)
      parent = node
    }
    samples.push(parent.id)
  }
  return { nodes, startTime: 0, endTime: samples.length * 1000, samples, timeDeltas: samples.map(() => 1000) }
}

function stagesFor (stacks: Array<Array<[string, string]>>): Partial<Record<Stage, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'om-stages-'))
  try {
    const file = join(dir, 'test.cpuprofile')
    writeFileSync(file, JSON.stringify(profileOf(stacks)))
    const breakdown = stagesOf(file, ROOT, [{ from: 0, to: Number.MAX_SAFE_INTEGER }])
    return Object.fromEntries(breakdown.stages.filter(({ samples }) => samples > 0).map(({ stage, samples }) => [stage, samples]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const request: Array<[string, string]> = [['socketOnData', 'node:_http_server'], ['parserOnIncoming', 'node:_http_server'], ['routeHandler', modules('fastify/lib/route.js')]]

t.test('a sample counts in the innermost stage of its stack, not in the HTTP parsing that every request runs under', async (t) => {
  t.same(stagesFor([
    [...request, ['authenticate', source('src/http/auth.js')], ['digest', 'node:internal/crypto/hash']],
    [...request, ['validate', modules('fastify/lib/validation.js')], ['validate10', '']],
    [...request, ['hookIterator', modules('fastify/lib/hooks.js')]],
    [['socketOnData', 'node:_http_server'], ['execute', '']]
  ]), { auth: 1, 'request validation': 1, 'the rest': 1, 'HTTP parsing': 1 })
})

t.test('the native calls of the SQLite driver under the store count as SQL, the row mapper as row mapping', async (t) => {
  t.same(stagesFor([
    [['processTicksAndRejections', 'node:internal/process/task_queues'], ['summary', source('src/domain/reads.js')], ['all', source('src/store/sqlite/statements.js')], ['all', '']],
    [['processTicksAndRejections', 'node:internal/process/task_queues'], ['summary', source('src/domain/reads.js')], ['toNumber', source('src/store/row-mapper.js')]],
    [['processTicksAndRejections', 'node:internal/process/task_queues'], ['summary', source('src/domain/reads.js')]]
  ]), { 'the domain': 1, SQL: 1, 'row mapping': 1 })
})

t.test('a socket write is the HTTP write under a reply, SQL under the PostgreSQL driver, and the idle loop counts nowhere', async (t) => {
  const write: Array<[string, string]> = [['Socket._writeGeneric', 'node:net'], ['writeUtf8String', '']]
  t.same(stagesFor([
    [...request, ['send', modules('fastify/lib/reply.js')], ['end', 'node:_http_outgoing'], ...write],
    [...request, ['send', modules('fastify/lib/reply.js')], ...write],
    [['query', modules('pg/lib/client.js')], ['Socket._writeGeneric', 'node:net'], ['writev', '']],
    [['(idle)', '']],
    [['(garbage collector)', '']]
  ]), { 'HTTP write': 2, SQL: 1, GC: 1 })
})
