// For the client's tests against the real service: the test keys' secrets, a batch of messages stored through the client, and a
// client that records its requests.
import { createOfflineMessagesClient } from '../../client/src/index.js'
import { KEYS } from './app.js'

/** The secret of one of the test keys (KEYS.router, KEYS.gateway, ...), as a client sends it. */
export const secret = (entry: string) => entry.split(':')[1] ?? ''

/** Stores `perSender` messages from each sender (`${sender}-${i}`) in one batch; resolves with their ids. */
export async function storeMessages (baseUrl: string, receiverUid: string, senders: string[], perSender: number, first = 0): Promise<string[]> {
  const router = createOfflineMessagesClient({ baseUrl, apiKey: secret(KEYS.router) })
  const ids: string[] = []
  const messages = senders.flatMap((sender) => Array.from({ length: perSender }, (_, n) => {
    const msgId = `${sender}-${first + n}`
    ids.push(msgId)
    return { receiver_uid: receiverUid, sender_uid: sender, msg_id: msgId, msg_type: 1, content: `message ${first + n} from ${sender}` }
  }))
  const { data, response } = await router.POST('/v1/messages/batch', { body: { messages } })
  if (response.status !== 200 || data === undefined) throw new Error(`batch store answered ${response.status}`)
  return ids
}

/**
 * A client of the service at `baseUrl` with the API key `keyEntry` (an entry of API_KEYS) that records each request it
 * sends (URL and time), whether or not the service answered; `answer` may stand in for the service.
 */
export function recordingClient (baseUrl: string, keyEntry: string, answer?: (request: Request) => Response | undefined) {
  const requests: Array<{ url: URL, at: number }> = []
  const client = createOfflineMessagesClient({
    baseUrl,
    apiKey: secret(keyEntry),
    fetch: async (input, init) => {
      const request = input instanceof Request ? input : new Request(input, init)
      requests.push({ url: new URL(request.url), at: Date.now() })
      return answer?.(request) ?? await fetch(request)
    }
  })
  return { client, requests }
}
