// POST /v1/messages: store, retry, conflict.
import t from 'tap'
import { buildTestApp, newMessage } from '../helpers/app.js'

t.test('a new message is stored with 201, a seq and normalised times', async (t) => {
  const { call } = await buildTestApp(t)
  const body = newMessage({ send_time: '2026-11-27T06:36:55.1+02:00' })
  const res = await call({ method: 'POST', url: '/v1/messages', payload: body })
  t.equal(res.statusCode, 201)
  const json = res.json()
  t.equal(json.duplicate, false)
  t.equal(json.seq, 1)
  t.equal(json.send_time, '2026-11-27T04:36:55.100Z')
  t.equal(json.stored_at, '2026-11-27T04:36:55.123Z')
  t.equal(json.expires_at, '2026-12-27T04:36:55.123Z')
})

t.test('a retry with the same payload is a duplicate with the original seq; another payload is a conflict', async (t) => {
  const { call } = await buildTestApp(t)
  const body = newMessage()
  t.equal((await call({ method: 'POST', url: '/v1/messages', payload: body })).statusCode, 201)
  const retry = await call({ method: 'POST', url: '/v1/messages', payload: body })
  t.equal(retry.statusCode, 200)
  t.match(retry.json(), { duplicate: true, seq: 1 })
  const conflict = await call({ method: 'POST', url: '/v1/messages', payload: { ...body, content: 'other' } })
  t.equal(conflict.statusCode, 409)
  t.equal(conflict.json().code, 'MSG_ID_CONFLICT')
})
