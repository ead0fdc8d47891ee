// The periodic TTL sweep: one round every interval, never two at once, stopped when the app closes.
import fp from 'fastify-plugin'
import type { MessageService } from '../domain/service.js'

export interface SweepOptions {
  service: MessageService
  intervalSeconds: number
}

export const sweep = fp<SweepOptions>(async (app, { service, intervalSeconds }) => {
  let timer: NodeJS.Timeout | undefined
  let sweeping = false
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      if (sweeping) return
      sweeping = true
      service.sweep()
        .catch((error: unknown) => { app.log.warn({ err: error }, 'TTL sweep failed; it will run again') })
        .finally(() => { sweeping = false })
    }, intervalSeconds * 1000)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    if (timer !== undefined) clearInterval(timer)
  })
}, { name: 'sweep' })
