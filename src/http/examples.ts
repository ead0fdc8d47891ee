// The examples of the OpenAPI document: alice writes to bob, who is offline, so Swagger UI shows values a person can read.
// test/http/openapi.test.ts validates every one against its schema.
import { STATUS_CODES } from 'node:http'

const FIRST = {
  msg_id: 'alice-0001',
  receiver_uid: 'bob',
  sender_uid: 'alice',
  msg_type: 1,
  content: 'see you at 8?',
  send_time: '2026-11-27T04:36:55.123Z',
  collapse_key: null,
  seq: 41,
  stored_at: '2026-11-27T04:36:55.201Z',
  expires_at: '2026-12-27T04:36:55.201Z'
}

const SECOND = {
  msg_id: 'alice-0002',
  receiver_uid: 'bob',
  sender_uid: 'alice',
  msg_type: 1,
  content: 'or 8:30, my train is late',
  send_time: '2026-11-27T04:37:12.480Z',
  collapse_key: null,
  seq: 42,
  stored_at: '2026-11-27T04:37:12.512Z',
  expires_at: '2026-12-27T04:37:12.512Z'
}

export const EXAMPLES = {
  recall: { sender_uid: 'alice' },
  recallResult: { msg_id: 'alice-0002', state: 'recalled', recalled_from: ['bob-phone', 'bob-laptop'], delivered_to: [] },
  recallPartly: { msg_id: 'alice-0002', state: 'partly_delivered', recalled_from: ['bob-laptop'], delivered_to: ['bob-phone'] },
  erased: { messages: 3, tombstones: 12, devices: 2 },
  newMessage: { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'alice-0001', msg_type: 1, content: 'see you at 8?' },
  message: FIRST,
  stored: { ...FIRST, duplicate: false },
  retried: { ...FIRST, duplicate: true },
  // Group chat fan-out: one message of alice's to every offline member; erin's inbox is full.
  batch: {
    messages: ['bob', 'carol', 'erin'].map((receiver) => ({
      receiver_uid: receiver, sender_uid: SECOND.sender_uid, msg_id: SECOND.msg_id, msg_type: SECOND.msg_type, content: SECOND.content
    }))
  },
  batchResult: {
    results: [
      { status: 'stored', msg_id: 'alice-0002', seq: 42 },
      { status: 'stored', msg_id: 'alice-0002', seq: 7 },
      { status: 'inbox_full', msg_id: 'alice-0002', seq: null }
    ]
  },
  summary: {
    receiver_uid: 'bob',
    total_pending: 3,
    senders: [
      {
        sender_uid: 'alice',
        pending_count: 2,
        last_seq: 42,
        last_send_time: SECOND.send_time,
        last_msg_type: 1,
        last_content_preview: SECOND.content,
        lost_count: 0
      },
      {
        sender_uid: 'dave',
        pending_count: 1,
        last_seq: 17,
        last_send_time: '2026-11-26T21:02:40.006Z',
        last_msg_type: 2,
        last_content_preview: 'https://files.example.net/dave/beach.jpg',
        lost_count: 2
      }
    ],
    next_cursor: null
  },
  // next_cursor is a real one: after seq 42.
  page: { messages: [FIRST, SECOND], next_cursor: 'bTEuNDI', has_more: false },
  ackByIds: { summary: 'by ids: the messages of a page', value: { msg_ids: ['alice-0001', 'alice-0002'] } },
  ackUpToSeq: { summary: "up to a seq: everything of alice's up to 42", value: { up_to_seq: 42, sender_uid: 'alice' } },
  ackResult: { deleted: 2 },
  device: { device_id: 'bob-phone', registered_at: '2026-11-27T04:30:00.000Z', pending_count: 2 },
  devices: {
    devices: [
      { device_id: 'bob-phone', registered_at: '2026-11-27T04:30:00.000Z', pending_count: 0, last_ack_at: '2026-11-27T04:37:02.000Z' },
      { device_id: 'bob-laptop', registered_at: '2026-11-27T04:31:00.000Z', pending_count: 2, last_ack_at: null }
    ]
  },
  metrics: [
    '# HELP offline_messages_stored_total Messages stored (new, not duplicates)',
    '# TYPE offline_messages_stored_total counter',
    'offline_messages_stored_total 1207',
    '# HELP offline_messages_pending Pending (stored, unacknowledged, unexpired) messages over all receivers',
    '# TYPE offline_messages_pending gauge',
    'offline_messages_pending 312',
    "# HELP offline_messages_store_durable 1 when a stored message survives a crash of the database and of its machine; 0 when PostgreSQL has fsync, synchronous_commit or full_page_writes off for the service's role",
    '# TYPE offline_messages_store_durable gauge',
    'offline_messages_store_durable 1',
    ''
  ].join('\n')
}

type Named = Record<string, { summary: string, value: { statusCode: number, code: string, error: string, message: string } }>

/** An error body as the service writes it: `error` is the status's reason phrase. */
const error = (statusCode: number, code: string, message: string) => ({ statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message })
const forbidden = (scope: string) => error(403, 'FORBIDDEN', `this API key lacks the "${scope}" scope this operation needs`)

/** Each error status with the answers the service gives, named for Swagger UI's example list. */
export const ERROR_EXAMPLES: Record<number, Named> = {
  400: {
    missing_field: { summary: 'a store body without content', value: error(400, 'FST_ERR_VALIDATION', 'body must have the property "content"') },
    bad_path_id: {
      summary: 'a receiver_uid with a space in the path',
      value: error(400, 'FST_ERR_VALIDATION', 'params/receiver_uid must match pattern "^[A-Za-z0-9._:@+-]+$"')
    },
    bad_cursor: {
      summary: 'a cursor this service did not issue',
      value: error(400, 'INVALID_CURSOR', 'cursor is not one this service issued for this listing; start again without a cursor')
    },
    device_required: {
      summary: 'bob has devices, and the call names none',
      value: error(400, 'DEVICE_REQUIRED', 'receiver "bob" has registered devices: say which one with device_id')
    }
  },
  401: {
    no_key: { summary: 'no key, or an unknown one', value: error(401, 'UNAUTHORIZED', 'a valid API key is required: send Authorization: Bearer <key>') }
  },
  403: {
    store: { summary: "a gateway's key (read+ack) on a store", value: forbidden('write') },
    fetch: { summary: "a router's key (write) on a fetch", value: forbidden('read') },
    ack: { summary: "a router's key (write) on an ack", value: forbidden('ack') },
    events: { summary: "a gateway's key (read+ack) on the event feed", value: forbidden('events') }
  },
  404: {
    not_pending: {
      summary: 'acked, expired or never stored',
      value: error(404, 'MESSAGE_NOT_FOUND', 'no pending message with msg_id "alice-0001" for this receiver')
    },
    events_off: {
      summary: 'the event feed of a service that runs with EVENTS=off',
      value: error(404, 'EVENTS_OFF', 'events are not recorded here: the service runs with EVENTS=off')
    },
    device_not_found: {
      summary: 'a device_id bob has not registered',
      value: error(404, 'DEVICE_NOT_FOUND', 'device "bob-tablet" is not registered for receiver "bob"; register it with PUT /v1/receivers/bob/devices/bob-tablet')
    }
  },
  409: {
    other_payload: {
      summary: 'the same msg_id with other content',
      value: error(409, 'MSG_ID_CONFLICT', 'msg_id "alice-0001" is already stored for this receiver with a different sender_uid, msg_type, content or collapse_key')
    },
    too_many_devices: {
      summary: 'bob has MAX_DEVICES_PER_RECEIVER devices',
      value: error(409, 'TOO_MANY_DEVICES', 'receiver "bob" already has 10 devices (MAX_DEVICES_PER_RECEIVER); unregister one before registering another')
    }
  },
  413: {
    too_large: { summary: 'a body over BODY_LIMIT_BYTES', value: error(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large') }
  },
  415: {
    not_json: { summary: 'Content-Type: text/plain', value: error(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type') }
  },
  429: {
    inbox_full: {
      summary: 'bob holds MAX_PENDING_PER_RECEIVER messages (reject policy)',
      value: error(429, 'INBOX_FULL', 'receiver "bob" already holds 10000 pending messages; it must ack some before more can be stored')
    },
    rate_limited: { summary: 'over the per-key rate limit', value: error(429, 'RATE_LIMITED', 'too many requests for this API key; retry after 12 s') }
  },
  503: {
    store_unavailable: { summary: 'the database is unreachable', value: error(503, 'STORE_UNAVAILABLE', 'the message store is unavailable; retry later') },
    shutting_down: { summary: 'this instance is stopping', value: error(503, 'SHUTTING_DOWN', 'this instance is shutting down; retry on another one') },
    too_many_waiters: {
      summary: 'the instance holds MAX_WAITERS waiting requests',
      value: error(503, 'TOO_MANY_WAITERS', 'this instance already holds 10000 waiting requests (MAX_WAITERS); retry after Retry-After seconds, or without wait_seconds')
    }
  },
  507: {
    store_full: {
      summary: 'the database is out of disk space',
      value: error(507, 'STORE_FULL', 'the message store is out of disk space: no new message can be stored until an operator frees space or grows the volume; reads and acks still work, and acks make room')
    }
  }
}
