// A TCP proxy that holds back what the server answers by a fixed delay, in order: a database "across a network" on
// this one machine (no netem here), to measure what a statement's round trip costs a request when it is not free.
//   npx tsx bench/delay-proxy.ts --listen 6543 --to 127.0.0.1:5432 --delay-ms 1
// then point DATABASE_URL (or --postgres-url) at port 6543. Each round trip through it takes at least the delay more.
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '6543' },
    to: { type: 'string', default: '127.0.0.1:5432' },
    'delay-ms': { type: 'string', default: '1' }
  }
})
const [host = '127.0.0.1', port = '5432'] = String(values.to).split(':')
const delayMs = Number(values['delay-ms'])
if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error(`--delay-ms: not a delay: ${String(values['delay-ms'])}`)

net.createServer((client) => {
  const server = net.connect({ port: Number(port), host, noDelay: true })
  // As the database's client and server do (TCP_NODELAY): Nagle would hold each write back until the last is acknowledged.
  client.setNoDelay(true)
  client.pipe(server)
  // The server's answers, each written once it is delayMs old, in the order received.
  const held: Array<{ due: number, chunk: Buffer }> = []
  let timer: NodeJS.Timeout | undefined
  const release = (): void => {
    timer = undefined
    const now = performance.now()
    while (held.length > 0 && (held[0]?.due ?? Infinity) <= now) client.write((held.shift() as { chunk: Buffer }).chunk)
    const next = held[0]
    if (next !== undefined) timer = setTimeout(release, Math.max(0, next.due - now))
  }
  server.on('data', (chunk: Buffer) => {
    held.push({ due: performance.now() + delayMs, chunk })
    if (timer === undefined) timer = setTimeout(release, delayMs)
  })
  const close = (): void => { clearTimeout(timer); client.destroy(); server.destroy() }
  server.on('error', close).on('close', close)
  client.on('error', close).on('close', close)
}).listen(Number(values.listen), '127.0.0.1', () => {
  console.log(`delaying answers from ${host}:${port} by ${delayMs} ms on 127.0.0.1:${String(values.listen)}`)
})
