// Compile-time tests of the ack body, never run: tsc (npm test) fails when a line marked @ts-expect-error compiles,
// and test/client/package.test.ts checks against the packed package that each marked line is an error.
import { ack, type AckBody, type OfflineMessagesClient } from '../../client/src/index.js'

export const byIds: AckBody = { msg_ids: ['alice-0001', 'alice-0002'] }
export const upToSeq: AckBody = { up_to_seq: 42 }
export const upToSeqOfOneSender: AckBody = { up_to_seq: 42, sender_uid: 'alice' }

// @ts-expect-error never both
export const both: AckBody = { msg_ids: ['alice-0001'], up_to_seq: 42 }
// @ts-expect-error not empty: one of the two
export const nothing: AckBody = {}
// @ts-expect-error not empty: at least one id
export const noIds: AckBody = { msg_ids: [] }
// @ts-expect-error sender_uid goes with up_to_seq only
export const idsOfOneSender: AckBody = { msg_ids: ['alice-0001'], sender_uid: 'alice' }

/** ack() takes an AckBody: the same rules. */
export async function acks (client: OfflineMessagesClient, maybeEmpty: string[]): Promise<void> {
  await ack(client, 'bob', { msg_ids: ['alice-0001'] })
  await ack(client, 'bob', { up_to_seq: 42, sender_uid: 'alice' })
  // @ts-expect-error never both
  await ack(client, 'bob', { msg_ids: ['alice-0001'], up_to_seq: 42 })
  // @ts-expect-error not empty: one of the two
  await ack(client, 'bob', {})
  // @ts-expect-error not empty: a string[] may be, so it has to be shown not to be ([first, ...rest])
  await ack(client, 'bob', { msg_ids: maybeEmpty })
  const [first, ...rest] = maybeEmpty
  if (first !== undefined) await ack(client, 'bob', { msg_ids: [first, ...rest] })
}

/** The client's own POST of an ack keeps the union (openapi-fetch widens the id list to string[]). */
export async function posts (client: OfflineMessagesClient): Promise<void> {
  const params = { path: { receiver_uid: 'bob' } }
  await client.POST('/v1/receivers/{receiver_uid}/acks', { params, body: { msg_ids: ['alice-0001'] } })
  await client.POST('/v1/receivers/{receiver_uid}/acks', { params, body: { up_to_seq: 42 } })
  // @ts-expect-error never both
  await client.POST('/v1/receivers/{receiver_uid}/acks', { params, body: { msg_ids: ['alice-0001'], up_to_seq: 42 } })
  // @ts-expect-error not empty: one of the two
  await client.POST('/v1/receivers/{receiver_uid}/acks', { params, body: {} })
}
