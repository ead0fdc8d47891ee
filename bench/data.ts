// The messages the benchmark stores, one shape for the HTTP scenarios (bench/run.ts) and the in-process floor (bench/floor.ts).

export const MESSAGES_PER_RECEIVER = 200
export const SENDERS_PER_RECEIVER = 20

/** The n-th preloaded message for receivers `${prefix}-0` to `${prefix}-(receivers - 1)`, filled round-robin. */
export function preloadedMessage (prefix: string, receivers: number, n: number, senders = SENDERS_PER_RECEIVER) {
  const index = Math.floor(n / receivers)
  return {
    receiver_uid: `${prefix}-${n % receivers}`,
    sender_uid: `s-${index % senders}`,
    msg_id: `p-${index}`,
    msg_type: 1,
    content: `preloaded message ${index} `.padEnd(100, 'x')
  }
}

/** The n-th message of the store scenario: 1,000 receivers, 7 senders, 100 characters of text. */
export function storedMessage (prefix: string, n: number) {
  return { receiver_uid: `${prefix}-${n % 1000}`, sender_uid: `s-${n % 7}`, msg_id: `st-${n}`, msg_type: 1, content: `store bench ${n} `.padEnd(100, 'x') }
}
