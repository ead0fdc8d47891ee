// GET /v1/receivers/{receiver_uid}/senders: the lazy-load summary, one row per sender, its order, paging and validation.
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { TEST_STORE } from '../helpers/database.js'
import { TIME, ack, getSummary, store } from '../helpers/requests.js'

const ROW_KEYS = ['last_content_preview', 'last_msg_type', 'last_send_time', 'last_seq', 'lost_count', 'pending_count', 'sender_uid']

t.test('an unknown receiver has an empty summary: total_pending 0, no senders, next_cursor null', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await getSummary(call, 'nobody')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { receiver_uid: 'nobody', total_pending: 0, senders: [], next_cursor: null })
})

t.test('each sender has one row describing its pending count and its latest pending message', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_type: 1, content: 'first from alice', send_time: '2026-11-27T01:00:00.000Z' })
  await store(call, { sender_uid: 'carol', msg_type: 3, content: 'https://cdn.example/voice.ogg', send_time: '2026-11-27T02:00:00.000Z' })
  await store(call, { sender_uid: 'alice', msg_type: 2, content: 'https://cdn.example/cat.png', send_time: '2026-11-27T03:00:00.5+01:00' })
  const res = await getSummary(call)
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    receiver_uid: 'bob',
    total_pending: 3,
    senders: [
      {
        sender_uid: 'alice',
        pending_count: 2,
        last_seq: 3,
        last_send_time: '2026-11-27T02:00:00.500Z',
        last_msg_type: 2,
        last_content_preview: 'https://cdn.example/cat.png',
        lost_count: 0
      },
      {
        sender_uid: 'carol',
        pending_count: 1,
        last_seq: 2,
        last_send_time: '2026-11-27T02:00:00.000Z',
        last_msg_type: 3,
        last_content_preview: 'https://cdn.example/voice.ogg',
        lost_count: 0
      }
    ],
    next_cursor: null
  })
})

t.test('last_send_time is the server time of the store when the sender gave none', async (t) => {
  const { call, clock } = await buildTestApp(t)
  clock.set(Date.parse('2026-11-27T10:11:12.345Z'))
  await store(call, { sender_uid: 'alice' })
  const row = (await getSummary(call)).json().senders[0]
  t.equal(row.last_send_time, '2026-11-27T10:11:12.345Z')
})

t.test('the preview is the content cut to 100 Unicode code points, never half a surrogate pair', async (t) => {
  const { call } = await buildTestApp(t)
  const long = 'a' + '😀'.repeat(150) // 151 code points, 301 UTF-16 units
  await store(call, { sender_uid: 'long', content: long })
  const exact = '🎉'.repeat(100) // exactly 100 code points, 200 UTF-16 units
  await store(call, { sender_uid: 'exact', content: exact })
  await store(call, { sender_uid: 'short', content: 'hi 👋' })
  await store(call, { sender_uid: 'empty', content: '' })
  const senders: Array<Record<string, any>> = (await getSummary(call)).json().senders
  const rows = new Map(senders.map((row) => [row.sender_uid as string, row]))
  const longPreview = rows.get('long')?.last_content_preview as string
  t.equal(longPreview, 'a' + '😀'.repeat(99))
  t.equal(Array.from(longPreview).length, 100)
  t.equal(longPreview.length, 199, 'UTF-16 length differs from the code point count')
  t.equal(rows.get('exact')?.last_content_preview, exact, 'content of exactly 100 code points is not cut')
  t.equal(rows.get('short')?.last_content_preview, 'hi 👋')
  t.equal(rows.get('empty')?.last_content_preview, '')
})

t.test('rows are ordered by last_seq descending: the most recent first', async (t) => {
  const { call } = await buildTestApp(t)
  for (const sender of ['alice', 'carol', 'dave', 'erin']) await store(call, { sender_uid: sender })
  const senders = (await getSummary(call)).json().senders
  t.same(senders.map((row: Record<string, unknown>) => row.sender_uid), ['erin', 'dave', 'carol', 'alice'])
  t.same(senders.map((row: Record<string, unknown>) => row.last_seq), [4, 3, 2, 1])
})

t.test('an older sender that writes again moves to the top of the summary', async (t) => {
  const { call } = await buildTestApp(t)
  for (const sender of ['alice', 'carol', 'dave']) await store(call, { sender_uid: sender })
  await store(call, { sender_uid: 'alice', content: 'again' })
  const senders = (await getSummary(call)).json().senders
  t.same(senders.map((row: Record<string, unknown>) => [row.sender_uid, row.last_seq, row.pending_count]),
    [['alice', 4, 2], ['dave', 3, 1], ['carol', 2, 1]])
  t.equal(senders[0].last_content_preview, 'again')
})

t.test('total_pending counts every pending message of this receiver and of no other', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice' })
  await store(call, { sender_uid: 'alice' })
  await store(call, { sender_uid: 'carol' })
  await store(call, { receiver_uid: 'zoe', sender_uid: 'alice' })
  await store(call, { receiver_uid: 'zoe', sender_uid: 'dave' })
  const bob = (await getSummary(call)).json()
  t.equal(bob.total_pending, 3)
  t.same(bob.senders.map((row: Record<string, unknown>) => row.sender_uid), ['carol', 'alice'])
  const zoe = (await getSummary(call, 'zoe')).json()
  t.equal(zoe.total_pending, 2)
  t.same(zoe.senders.map((row: Record<string, unknown>) => [row.sender_uid, row.pending_count]), [['dave', 1], ['alice', 1]])
})

t.test('paging with limit and next_cursor shows every sender exactly once, in order, and ends with next_cursor null', async (t) => {
  const { call } = await buildTestApp(t)
  const senders = ['s1', 's2', 's3', 's4', 's5', 's6', 's7']
  for (const sender of senders) await store(call, { sender_uid: sender })
  const seen: string[] = []
  const pageSizes: number[] = []
  let cursor: string | null = null
  let rounds = 0
  do {
    const query: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${encodeURIComponent(cursor)}`
    const res = await getSummary(call, 'bob', query)
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.equal(body.total_pending, 7, 'total_pending is the whole receiver on every page')
    pageSizes.push(body.senders.length)
    seen.push(...body.senders.map((row: Record<string, string>) => row.sender_uid))
    cursor = body.next_cursor
    if (cursor !== null) t.type(cursor, 'string')
  } while (cursor !== null && ++rounds < 10)
  t.same(pageSizes, [3, 3, 1])
  t.same(seen, [...senders].reverse())
})

t.test('a page that ends exactly on the last sender has next_cursor null', async (t) => {
  const { call } = await buildTestApp(t)
  for (const sender of ['s1', 's2', 's3', 's4']) await store(call, { sender_uid: sender })
  const first = (await getSummary(call, 'bob', '?limit=2')).json()
  t.not(first.next_cursor, null)
  const second = (await getSummary(call, 'bob', `?limit=2&cursor=${encodeURIComponent(first.next_cursor)}`)).json()
  t.same(second.senders.map((row: Record<string, unknown>) => row.sender_uid), ['s2', 's1'])
  t.equal(second.next_cursor, null)
  const all = (await getSummary(call, 'bob', '?limit=4')).json()
  t.equal(all.senders.length, 4)
  t.equal(all.next_cursor, null)
})

t.test('limit defaults to 50 senders', async (t) => {
  const { call } = await buildTestApp(t)
  for (let i = 0; i < 51; i++) await store(call, { sender_uid: `s${i}` })
  const first = (await getSummary(call)).json()
  t.equal(first.senders.length, 50)
  t.equal(first.total_pending, 51)
  t.type(first.next_cursor, 'string')
  const second = (await getSummary(call, 'bob', `?cursor=${encodeURIComponent(first.next_cursor)}`)).json()
  t.same(second.senders.map((row: Record<string, unknown>) => row.sender_uid), ['s0'])
  t.equal(second.next_cursor, null)
})

t.test('limit must be 1 to 500: 0 and 501 answer 400, 1 and 500 are accepted', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice' })
  await store(call, { sender_uid: 'carol' })
  for (const limit of ['0', '501', '-1', 'ten']) {
    const res = await getSummary(call, 'bob', `?limit=${limit}`)
    t.equal(res.statusCode, 400, `limit=${limit}`)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
    t.match(body, { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' })
  }
  const one = await getSummary(call, 'bob', '?limit=1')
  t.equal(one.statusCode, 200)
  t.same(one.json().senders.map((row: Record<string, unknown>) => row.sender_uid), ['carol'])
  const max = await getSummary(call, 'bob', '?limit=500')
  t.equal(max.statusCode, 200)
  t.equal(max.json().senders.length, 2)
})

t.test('a bad cursor answers 400 INVALID_CURSOR: garbage, empty, or a cursor from the messages listing', async (t) => {
  const { call } = await buildTestApp(t)
  for (const sender of ['alice', 'carol', 'dave']) await store(call, { sender_uid: sender })
  const pageCursor = (await call({ method: 'GET', url: '/v1/receivers/bob/messages?limit=1' })).json().next_cursor as string
  const valid = (await getSummary(call, 'bob', '?limit=1')).json().next_cursor as string
  const tampered = `${valid}AAAA`
  const cases: Record<string, string> = {
    garbage: 'not-a-cursor',
    'not base64url': '%%%',
    empty: '',
    'from the messages listing': pageCursor,
    tampered,
    'too long': 'A'.repeat(200)
  }
  for (const [name, cursor] of Object.entries(cases)) {
    const res = await getSummary(call, 'bob', `?cursor=${encodeURIComponent(cursor)}`)
    t.equal(res.statusCode, 400, name)
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'], name)
    t.match(res.json(), { statusCode: 400, code: 'INVALID_CURSOR', error: 'Bad Request' }, name)
  }
  const unknown = await getSummary(call, 'nobody', `?cursor=${encodeURIComponent(pageCursor)}`)
  t.equal(unknown.statusCode, 400, 'also for a receiver with nothing pending')
  t.equal(unknown.json().code, 'INVALID_CURSOR')
})

t.test("after acking a sender's latest message its row describes the next pending one", async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1', msg_type: 1, content: 'older text', send_time: '2026-11-27T01:00:00.000Z' })
  await store(call, { sender_uid: 'carol', msg_id: 'c1', content: 'from carol', send_time: '2026-11-27T01:30:00.000Z' })
  await store(call, { sender_uid: 'alice', msg_id: 'a2', msg_type: 2, content: 'https://cdn.example/newer.png', send_time: '2026-11-27T02:00:00.000Z' })
  t.equal(await ack(call, { msg_ids: ['a2'] }), 1)
  const body = (await getSummary(call)).json()
  t.equal(body.total_pending, 2)
  t.same(body.senders, [
    {
      sender_uid: 'carol',
      pending_count: 1,
      last_seq: 2,
      last_send_time: '2026-11-27T01:30:00.000Z',
      last_msg_type: 1,
      last_content_preview: 'from carol',
      lost_count: 0
    },
    {
      sender_uid: 'alice',
      pending_count: 1,
      last_seq: 1,
      last_send_time: '2026-11-27T01:00:00.000Z',
      last_msg_type: 1,
      last_content_preview: 'older text',
      lost_count: 0
    }
  ])
})

t.test("after acking all of a sender's messages its row disappears", async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1' })
  await store(call, { sender_uid: 'carol', msg_id: 'c1' })
  await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  t.equal(await ack(call, { msg_ids: ['a1', 'a2'] }), 2)
  const body = (await getSummary(call)).json()
  t.equal(body.total_pending, 1)
  t.same(body.senders.map((row: Record<string, unknown>) => row.sender_uid), ['carol'])
  t.equal(await ack(call, { msg_ids: ['c1'] }), 1)
  t.same((await getSummary(call)).json(), { receiver_uid: 'bob', total_pending: 0, senders: [], next_cursor: null })
})

t.test('the summary carries no message bodies: rows have exactly the summary fields, no content', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', content: 'a secret body that is longer than nothing' })
  await store(call, { sender_uid: 'carol' })
  const body = (await getSummary(call)).json()
  t.same(Object.keys(body).sort(), ['next_cursor', 'receiver_uid', 'senders', 'total_pending'])
  for (const row of body.senders) {
    t.same(Object.keys(row).sort(), ROW_KEYS)
    t.notOk('content' in row)
  }
})

t.test('summary numbers are JSON numbers and times are RFC 3339 UTC with milliseconds', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_type: 65535, send_time: '2026-11-27T12:00:00+05:30' })
  const body = (await getSummary(call)).json()
  t.type(body.total_pending, 'number')
  const row = body.senders[0]
  for (const field of ['pending_count', 'last_seq', 'last_msg_type', 'lost_count']) t.type(row[field], 'number', field)
  t.equal(row.last_msg_type, 65535)
  t.match(row.last_send_time, TIME)
  t.equal(row.last_send_time, '2026-11-27T06:30:00.000Z')
})

t.test('summaries asked at the same moment answer each as it would alone: receivers, devices, cursors and unknown ones mixed', async (t) => {
  const { app, call } = await buildTestApp(t)
  for (let i = 0; i < 7; i++) await store(call, { receiver_uid: 'bob', sender_uid: `s${i}` })
  for (const device of ['phone', 'laptop']) t.equal((await call({ method: 'PUT', url: `/v1/receivers/dee/devices/${device}` })).statusCode, 201)
  for (let i = 0; i < 5; i++) await store(call, { receiver_uid: 'dee', sender_uid: `s${i}` })
  // The phone has acked two of them: its summary differs from the laptop's.
  t.equal(await ack(call, { device_id: 'phone', up_to_seq: 2 }, 'dee'), 2)
  const cursor = String((await getSummary(call, 'bob', '?limit=3')).json().next_cursor)
  const queries: Array<[string, string]> = [
    ['bob', ''], ['bob', '?limit=3'], ['bob', `?limit=3&cursor=${encodeURIComponent(cursor)}`], ['dee', '?device_id=phone'],
    ['dee', '?device_id=laptop&limit=2'], ['dee', '?device_id=tablet'], ['dee', ''], ['nobody', ''], ['nobody', '?device_id=phone']
  ]
  const answer = async ([receiver, query]: [string, string]): Promise<[number, unknown]> => {
    const res = await getSummary(call, receiver, query)
    return [res.statusCode, res.json()]
  }
  const alone: Array<[number, unknown]> = []
  const beforeAlone = app.store.statementCounts().statements
  for (const query of queries) alone.push(await answer(query))
  const aloneStatements = app.store.statementCounts().statements - beforeAlone
  const body = (i: number): { total_pending?: number, senders?: unknown[] } => alone[i]?.[1] as { total_pending?: number, senders?: unknown[] }
  t.strictSame([body(3).total_pending, body(4).total_pending, body(4).senders?.length], [3, 5, 2], 'the phone has 3 pending, the laptop 5 (a page of 2)')
  t.strictSame([body(1).senders?.length, body(2).senders?.length, body(0).senders?.length], [3, 3, 7], 'bob by pages of 3, and whole')
  t.strictSame(alone[7], [200, { receiver_uid: 'nobody', total_pending: 0, senders: [], next_cursor: null }])
  const rounds = 4
  const beforeTogether = app.store.statementCounts().statements
  const together = await Promise.all(Array.from({ length: rounds }, () => queries).flat().map(answer))
  t.strictSame(together, Array.from({ length: rounds }, () => alone).flat(), 'each the same as alone')
  if (TEST_STORE === 'sqlite') {
    // Together they ran in read transactions of many reads: the same statements as alone, and a BEGIN and a COMMIT for
    // each group (at most 64 reads: 36 here need one or two).
    const extra = app.store.statementCounts().statements - beforeTogether - rounds * aloneStatements
    t.ok(extra === 2 || extra === 4, `read in one or two groups: ${extra} statements beyond alone's`)
  }
})
