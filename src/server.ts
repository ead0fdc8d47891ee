// The process: load the configuration, build the app, listen, and close with grace on SIGTERM or SIGINT.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { orRefuse } from './refusal.js'

// A bad variable, or a database that refuses DATABASE_URL, stops the start with one line naming the variable.
const config = await orRefuse('not starting', () => loadConfig())
const app = await orRefuse('not starting', () => buildApp(config))
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing: no new requests, finishing those in flight')
  await app.close()
})
await app.listen({ ...config.listen })
