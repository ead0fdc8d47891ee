// Compile-time tests of device_id wherever the API takes it, and of the device and watch calls, never run: tsc (npm test)
// fails when a line marked @ts-expect-error compiles, and test/client/package.test.ts checks the same against the packed package.
import {
  ack, listDevices, registerDevice, unregisterDevice, watch,
  type AckBody, type Device, type OfflineMessagesClient, type PullAllResult, type RegisteredDevice
} from '../../client/src/index.js'

export const byIdsForADevice: AckBody = { msg_ids: ['alice-0001'], device_id: 'bob-phone' }
export const upToSeqForADevice: AckBody = { up_to_seq: 42, device_id: 'bob-phone' }
export const upToSeqOfOneSenderForADevice: AckBody = { up_to_seq: 42, sender_uid: 'alice', device_id: 'bob-phone' }

// @ts-expect-error a device id is a string
export const numericDevice: AckBody = { msg_ids: ['alice-0001'], device_id: 7 }
// @ts-expect-error a device does not lift the rule: never both
export const bothForADevice: AckBody = { msg_ids: ['alice-0001'], up_to_seq: 42, device_id: 'bob-phone' }
// @ts-expect-error the field is device_id, as on the wire
export const camelCaseDevice: AckBody = { msg_ids: ['alice-0001'], deviceId: 'bob-phone' }

/** ack() and the client's own calls take device_id where the service does: the ack body and the query of reads and deletes. */
export async function calls (client: OfflineMessagesClient): Promise<void> {
  const path = { receiver_uid: 'bob' }
  await ack(client, 'bob', { msg_ids: ['alice-0001'], device_id: 'bob-phone' })
  await ack(client, 'bob', { up_to_seq: 42, sender_uid: 'alice', device_id: 'bob-phone' })
  await client.POST('/v1/receivers/{receiver_uid}/acks', { params: { path }, body: { msg_ids: ['alice-0001'], device_id: 'bob-phone' } })
  await client.GET('/v1/receivers/{receiver_uid}/senders', { params: { path, query: { device_id: 'bob-phone' } } })
  await client.GET('/v1/receivers/{receiver_uid}/messages', { params: { path, query: { device_id: 'bob-phone', wait_seconds: 30 } } })
  await client.GET('/v1/receivers/{receiver_uid}/messages/{msg_id}', { params: { path: { ...path, msg_id: 'alice-0001' }, query: { device_id: 'bob-phone' } } })
  await client.DELETE('/v1/receivers/{receiver_uid}/messages/{msg_id}', { params: { path: { ...path, msg_id: 'alice-0001' }, query: { device_id: 'bob-phone' } } })
  // @ts-expect-error never both, with a device too
  await ack(client, 'bob', { msg_ids: ['alice-0001'], up_to_seq: 42, device_id: 'bob-phone' })
  // @ts-expect-error the query parameter is device_id
  await client.GET('/v1/receivers/{receiver_uid}/senders', { params: { path, query: { deviceId: 'bob-phone' } } })
}

/** registerDevice, listDevices and unregisterDevice answer the service's bodies. */
export async function devices (client: OfflineMessagesClient): Promise<void> {
  const registered: RegisteredDevice = await registerDevice(client, 'bob', 'bob-phone')
  const pending: number = registered.pending_count
  const listed: Device[] = await listDevices(client, 'bob')
  const lastAck: string | null | undefined = listed[0]?.last_ack_at
  const nothing: void = await unregisterDevice(client, 'bob', 'bob-phone')
  // @ts-expect-error one device at a time
  await registerDevice(client, 'bob', ['bob-phone', 'bob-laptop'])
  // @ts-expect-error unregisterDevice names the device
  await unregisterDevice(client, 'bob')
  console.log(pending, lastAck, nothing)
}

/** watch hands the messages and the page to the handler; its options are camelCase, like pullAll's. */
export async function watches (client: OfflineMessagesClient): Promise<void> {
  const controller = new AbortController()
  const result: PullAllResult = await watch(client, 'bob', async (messages, page) => {
    const ids: string[] = messages.map((message) => message.msg_id)
    const next: string = page.next_cursor
    console.log(ids, next, page.has_more)
  }, { deviceId: 'bob-phone', senderUid: 'alice', signal: controller.signal, waitSeconds: 30, pageSize: 50 })
  console.log(result.acked)
  // @ts-expect-error the options are camelCase
  await watch(client, 'bob', async () => {}, { device_id: 'bob-phone' })
  // @ts-expect-error the handler gets the messages first, then the page
  await watch(client, 'bob', async (page: { next_cursor: string }) => { console.log(page.next_cursor) })
}
