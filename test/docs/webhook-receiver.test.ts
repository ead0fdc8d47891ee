// The README's webhook receiver, run as a reader would (node receiver.mjs): batches signed with the standardwebhooks
// library, as the service signs them, get 204 and a "delivered" tick per message.delivered; a tampered body, another
// secret or a stale timestamp get 401 and no tick.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { section } from '../helpers/markdown.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HEADING = '## v1.2: events, webhooks, recall, collapse keys, erasure'

/** The README's receiver: the js block of the v1.2 section that imports standardwebhooks. */
function receiverExample (): string {
  const blocks = [...section(readFileSync(join(ROOT, 'README.md'), 'utf8'), HEADING).matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  const receivers = blocks.filter((block) => block.includes("from 'standardwebhooks'"))
  if (receivers.length !== 1) throw new Error(`${HEADING} should hold one receiver, found ${receivers.length}`)
  return receivers[0] ?? ''
}

/** Starts receiver.mjs in a scratch folder (the repository's node_modules linked in) on a free port; resolves once it listens. */
async function startReceiver (t: Tap, secret: string) {
  const folder = mkdtempSync(join(tmpdir(), 'om-receiver-'))
  symlinkSync(join(ROOT, 'node_modules'), join(folder, 'node_modules'), 'dir')
  writeFileSync(join(folder, 'receiver.mjs'), receiverExample())
  const child = spawn(process.execPath, ['receiver.mjs'], { cwd: folder, env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: secret, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  t.teardown(() => {
    child.kill()
    rmSync(folder, { recursive: true, force: true })
  })
  const deadline = Date.now() + 10_000
  let port: string | undefined
  while ((port = /^listening on (\d+)$/m.exec(stdout)?.[1]) === undefined) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`receiver.mjs did not start: ${stdout}${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  /** What it printed since it said it listens, one line each, once `count` lines have come (its stdout is a pipe: they may trail the answer). */
  const printed = async (count: number) => {
    const lines = () => stdout.split('\n').filter((line) => line !== '' && !line.startsWith('listening on'))
    const until = Date.now() + 2000
    while (lines().length < count && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
    return lines()
  }
  return { url: `http://127.0.0.1:${port}`, printed }
}

interface Tap { teardown (fn: () => unknown): void }

const secretOf = () => `whsec_${randomBytes(32).toString('base64')}`

/** A request as the service sends it: body {events}, signed with `secret` at `at`, webhook-id `id`. */
function signed (secret: string, body: string, id = `msg_${randomBytes(8).toString('hex')}`, at = new Date()) {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body)
    },
    body
  }
}

const event = (type: string, msgId: string, deviceId: string | null) => ({
  id: `17334802${msgId.length}:1`, type, occurred_at: '2026-11-27T04:41:02.310Z', receiver_uid: 'bob', device_id: deviceId,
  sender_uid: 'alice', msg_id: msgId, seq: 41, pending_count: 0
})

const batch = JSON.stringify({
  events: [
    { ...event('message.stored', 'alice-0001', null), msg_type: 1, content_preview: 'see you at 8?', devices: ['bob-phone', 'bob-laptop'] },
    event('message.delivered', 'alice-0001', 'bob-phone'),
    event('message.expired', 'alice-0002', 'bob-laptop'),
    event('message.delivered', 'alice-0003', null),
    { ...event('message.seen', 'alice-0004', 'bob-phone'), note: 'a type the receiver does not know yet' }
  ]
})

t.test("the README's receiver answers 204 to a signed batch, after printing a tick for each message.delivered and nothing for the other types", async (t) => {
  const secret = secretOf()
  const receiver = await startReceiver(t, secret)
  const response = await fetch(receiver.url, signed(secret, batch))
  t.equal(response.status, 204)
  t.same(await receiver.printed(2), ['delivered: alice-0001 from alice to bob-phone', 'delivered: alice-0003 from alice to the receiver'],
    'one tick per message.delivered, in the batch order')

  const again = signed(secret, batch, 'msg_retried')
  t.equal((await fetch(receiver.url, again)).status, 204, 'a retry of a batch (same webhook-id) is handled again: delivery is at least once')
  t.equal((await receiver.printed(4)).length, 4, 'and ticks again')
})

t.test("the README's receiver answers 401 and ticks nothing for a tampered body, another secret, a stale timestamp or no signature", async (t) => {
  const secret = secretOf()
  const receiver = await startReceiver(t, secret)
  const genuine = signed(secret, batch)
  const tampered = { ...genuine, body: genuine.body.replace('alice-0003', 'alice-0666') }
  t.equal((await fetch(receiver.url, tampered)).status, 401, 'a body changed after signing')
  t.equal((await fetch(receiver.url, signed(secretOf(), batch))).status, 401, 'signed with another secret')
  t.equal((await fetch(receiver.url, signed(secret, batch, 'msg_old', new Date(Date.now() - 10 * 60_000)))).status, 401, 'signed ten minutes ago: a replay')
  t.equal((await fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch })).status, 401, 'no webhook headers at all')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(await receiver.printed(0), [], 'no tick for any of them')
  t.equal((await fetch(receiver.url, genuine)).status, 204, 'the genuine request is still accepted')
  t.equal((await receiver.printed(2)).length, 2, 'with its two ticks')
})
