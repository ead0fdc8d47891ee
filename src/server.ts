// The process: load the configuration, build the app, listen, and close with grace on SIGTERM or SIGINT.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`offline-messages: not starting: ${error.message}\n`)
  process.exit(1)
}

const app = await buildApp(config)
closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing: no new requests, finishing those in flight')
  await app.close()
})
await app.listen({ ...config.listen })
