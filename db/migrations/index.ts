// The ordered list of migrations: imported explicitly, so the same list runs from TypeScript sources and from dist/.
import type { Knex } from 'knex'
import * as initialSchema from './001-initial-schema.js'
import * as summaryPreview from './002-summary-preview.js'
import * as devices from './003-devices.js'
import * as events from './004-events.js'
import * as collapseKeys from './005-collapse-keys.js'
import * as webhookDelivery from './006-webhook-delivery.js'
import * as eventReceivers from './007-event-receivers.js'

export interface Migration {
  name: string
  up (knex: Knex): Promise<void>
  down (knex: Knex): Promise<void>
}

export const migrations: readonly Migration[] = [initialSchema, summaryPreview, devices, events, collapseKeys, webhookDelivery, eventReceivers]
