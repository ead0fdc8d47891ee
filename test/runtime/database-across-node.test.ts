// A SQLite database file written by the service under one Node version opens under another with every message intact:
// the upgrade an operator makes (rebuild the native module, keep the file). .ci/run runs this file on each runtime in
// turn on one folder (TEST_CROSS_NODE_DIR), naming in TEST_CROSS_NODE_WRITTEN_BY the versions that wrote before; alone,
// it writes and reads back within this Node version, across two starts of the service.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { TEST_STORE } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

interface Written { node: string, msgIds: string[] }

const RECEIVER = 'across-node'
const shared = process.env.TEST_CROSS_NODE_DIR
const dir = shared ?? mkdtempSync(join(tmpdir(), 'om-across-node-'))
if (shared === undefined) t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
// The file is SQLite's whatever TEST_STORE says; each store's pass writes a file of its own, so that the two passes of
// one runtime never read each other's.
const databaseUrl = `sqlite:${join(dir, `offline-messages-${TEST_STORE}.db`)}`
const logFile = join(dir, `written-by-${TEST_STORE}.json`)
const log = (): Written[] => existsSync(logFile) ? JSON.parse(readFileSync(logFile, 'utf8')) as Written[] : []

async function pending (url: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/receivers/${RECEIVER}/messages?limit=1000`, { headers: AUTH.gateway })
  const page = await response.json() as { messages: Array<{ msg_id: string, content: string }> }
  return page.messages.map((message) => message.msg_id)
}

t.test(`a database written under earlier Node versions opens on ${process.version} with every message`, async (t) => {
  const earlier = log()
  const expected = (process.env.TEST_CROSS_NODE_WRITTEN_BY ?? '').split(',').filter((version) => version !== '')
  for (const version of expected) {
    t.ok(earlier.some((written) => written.node === version), `the file was written under node ${version} before this run`)
  }

  const service = await startService(t, { DATABASE_URL: databaseUrl })
  t.same((await pending(service.url)).sort(), earlier.flatMap((written) => written.msgIds).sort(),
    'every message stored under the earlier versions is pending, and nothing else')

  const msgIds = [1, 2, 3].map((i) => `${process.version}-${i}`)
  for (const msgId of msgIds) {
    const stored = await fetch(`${service.url}/v1/messages`, {
      method: 'POST',
      headers: { ...AUTH.router, 'content-type': 'application/json' },
      body: JSON.stringify({ receiver_uid: RECEIVER, sender_uid: 'writer', msg_id: msgId, msg_type: 1, content: `stored on ${process.version}` })
    })
    t.equal(stored.status, 201, `${msgId} stored on ${process.version}`)
  }
  t.equal(await service.stop(), 0, 'the service closes with exit code 0')
  writeFileSync(logFile, JSON.stringify([...earlier, { node: process.version, msgIds }]))

  const again = await startService(t, { DATABASE_URL: databaseUrl })
  t.same((await pending(again.url)).sort(), [...earlier.flatMap((written) => written.msgIds), ...msgIds].sort(),
    'after a restart, the messages of every version are pending')
  t.equal(await again.stop(), 0)
})
