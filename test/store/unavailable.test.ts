// Which driver failures count as "the database is unavailable" (503, retry later) and which are bugs (500).
// The errors are the real ones pg and knex throw against a server that accepts and never answers, or hangs up.
import { createServer, type Server, type Socket } from 'node:net'
import knex from 'knex'
import pg from 'pg'
import t from 'tap'
import { isUnavailable } from '../../src/store/errors.js'

async function listen (onSocket: (socket: Socket) => void): Promise<{ server: Server, port: number, sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { server, port: address.port, sockets }
}

async function failure (work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work()
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

t.test('pg connect timeout against a silent server ("timeout expired") is unavailable', async (t) => {
  const { port } = await listen(() => { /* accept and say nothing, like a frozen server */ })
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', database: 'x', connectionTimeoutMillis: 100 })
  const error = await failure(() => client.connect())
  t.match(error, { message: /timeout/ })
  t.ok(isUnavailable(error), String(error))
})

t.test('a server that hangs up during the handshake is unavailable', async (t) => {
  const { port } = await listen((socket) => { socket.destroy() })
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', database: 'x', connectionTimeoutMillis: 2000 })
  const error = await failure(() => client.connect())
  t.ok(isUnavailable(error), String(error))
})

t.test('a refused connection is unavailable', async (t) => {
  const { server, port } = await listen(() => {})
  await new Promise((resolve) => server.close(resolve))
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', database: 'x', connectionTimeoutMillis: 2000 })
  const error = await failure(() => client.connect())
  t.match(error, { code: 'ECONNREFUSED' })
  t.ok(isUnavailable(error), String(error))
})

t.test('knex over a silent server: whatever the pool throws is unavailable', async (t) => {
  const { port } = await listen(() => {})
  const db = knex({
    client: 'pg',
    connection: { host: '127.0.0.1', port, user: 'x', database: 'x', connectionTimeoutMillis: 150 },
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 300
  })
  t.teardown(() => db.destroy())
  const errors = await Promise.all([1, 2, 3].map(() => failure(() => db.raw('select 1'))))
  for (const error of errors) t.ok(isUnavailable(error), String(error))
})

t.test('errors that are not about reaching the database are not unavailable', async (t) => {
  t.notOk(isUnavailable(new TypeError("Cannot read properties of undefined (reading 'seq')")))
  t.notOk(isUnavailable(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' })))
  t.notOk(isUnavailable(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })))
  t.notOk(isUnavailable(Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })))
  t.notOk(isUnavailable('timeout expired'), 'only Error objects')
  t.ok(isUnavailable(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_FSYNC' })))
  t.ok(isUnavailable(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })))
  t.ok(isUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })))
})
