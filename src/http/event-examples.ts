// The event feed's OpenAPI examples: bob, with a phone and a laptop, gets alice's message; the phone reads it.
const stored = {
  id: '1733480215:1',
  type: 'message.stored',
  occurred_at: '2026-11-27T04:36:55.201Z',
  receiver_uid: 'bob',
  device_id: null,
  sender_uid: 'alice',
  msg_id: 'alice-0001',
  seq: 41,
  pending_count: 3,
  msg_type: 1,
  content_preview: 'see you at 8?',
  devices: ['bob-phone', 'bob-laptop']
}
const forDevice = (type: string, id: string, occurredAt: string, deviceId: string, pendingCount: number) => ({
  id, type, occurred_at: occurredAt, receiver_uid: 'bob', device_id: deviceId, sender_uid: 'alice', msg_id: 'alice-0001', seq: 41, pending_count: pendingCount
})

export const EVENT_EXAMPLES: Record<string, unknown> = {
  'message.stored': stored,
  'message.delivered': forDevice('message.delivered', '1733480230:1', '2026-11-27T04:41:02.310Z', 'bob-phone', 2),
  'message.expired': forDevice('message.expired', '1733491702:1', '2026-12-27T04:36:55.201Z', 'bob-laptop', 0),
  'message.dropped': forDevice('message.dropped', '1733480299:1', '2026-11-27T05:02:13.004Z', 'bob-laptop', 9999),
  'message.unlinked': forDevice('message.unlinked', '1733480305:2', '2026-11-27T05:10:40.777Z', 'bob-laptop', 0),
  'message.superseded': {
    id: '1733480311:1', type: 'message.superseded', occurred_at: '2026-11-27T05:11:02.118Z', receiver_uid: 'bob', device_id: null,
    sender_uid: 'alice', msg_id: 'alice-typing-0007', seq: 44, pending_count: 2
  },
  'message.recalled': {
    id: '1733480320:1', type: 'message.recalled', occurred_at: '2026-11-27T05:12:30.540Z', receiver_uid: 'bob', device_id: null,
    sender_uid: 'alice', msg_id: 'alice-0002', seq: 42, pending_count: 1
  },
  'receiver.erased': {
    id: '1733480390:1', type: 'receiver.erased', occurred_at: '2026-11-27T06:00:00.000Z', receiver_uid: 'bob', device_id: null,
    sender_uid: null, msg_id: null, seq: null, pending_count: 0
  },
  page: {
    events: [stored, forDevice('message.delivered', '1733480230:1', '2026-11-27T04:41:02.310Z', 'bob-phone', 2)],
    next_cursor: 'WyJlMSIsIjE3MzM0ODAyMzA6MSJd.x3nQd0Ws2Lq7p3Zk',
    has_more: false,
    missed: false
  }
}
