// A receiver's devices under /v1/receivers/{receiver_uid}/devices: register, list, unregister.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { DeviceView } from '../domain/model.js'
import type { MessageService } from '../domain/service.js'
import { DeviceResponseSchema, DevicesResponseSchema } from './receiver-schemas.js'
import { DeviceParamsSchema, NoQuerySchema, ReceiverParamsSchema, errorResponses } from './schemas.js'
import { formatTime } from './time.js'

export interface DeviceRoutesOptions {
  service: MessageService
}

const presentDevice = (device: DeviceView) =>
  ({ device_id: device.deviceId, registered_at: formatTime(device.registeredAt), pending_count: device.pendingCount })

export const deviceRoutes: FastifyPluginAsyncTypebox<DeviceRoutesOptions> = async (app, { service }) => {
  app.put('/receivers/:receiver_uid/devices/:device_id', {
    config: { scope: 'ack' },
    schema: {
      operationId: 'registerDevice',
      tags: ['devices'],
      summary: 'Register a device of the receiver',
      description: 'Idempotent: 201 when it is new, 200 with the same body when it was registered already. A message is pending for every device ' +
        'registered when it commits; a device registered later does not get older messages, except the first device of a receiver, which takes over ' +
        'what was pending for the receiver without devices. From the first device on, the summary, pages, single reads, acks and deletes of this ' +
        'receiver need device_id. At most MAX_DEVICES_PER_RECEIVER devices (409 TOO_MANY_DEVICES).',
      params: DeviceParamsSchema,
      querystring: NoQuerySchema,
      response: { 200: DeviceResponseSchema, 201: DeviceResponseSchema, ...errorResponses(400, 401, 403, 409, 429, 503, 507) }
    }
  }, async (request, reply) => {
    const { device, created } = await service.registerDevice(request.params.receiver_uid, request.params.device_id)
    return await reply.code(created ? 201 : 200).send(presentDevice(device))
  })

  app.get('/receivers/:receiver_uid/devices', {
    config: { scope: 'read' },
    schema: {
      operationId: 'listDevices',
      tags: ['devices'],
      summary: "The receiver's devices, with what is pending for each",
      params: ReceiverParamsSchema,
      querystring: NoQuerySchema,
      response: { 200: DevicesResponseSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async (request) => ({
    devices: (await service.devices(request.params.receiver_uid)).map((device) => ({
      ...presentDevice(device),
      last_ack_at: device.lastAckAt === null ? null : formatTime(device.lastAckAt)
    }))
  }))

  app.delete('/receivers/:receiver_uid/devices/:device_id', {
    config: { scope: 'ack' },
    schema: {
      operationId: 'unregisterDevice',
      tags: ['devices'],
      summary: 'Unregister a device',
      description: 'Answers 204 also when it was not registered. What was pending only for this device is deleted (leaving tombstones, not counted as lost); ' +
        'what other devices still have pending stays.',
      params: DeviceParamsSchema,
      querystring: NoQuerySchema,
      response: { 204: Type.Null({ description: 'unregistered' }), ...errorResponses(400, 401, 403, 429, 503, 507) }
    }
  }, async (request, reply) => {
    await service.unregisterDevice(request.params.receiver_uid, request.params.device_id)
    return await reply.code(204).send(null)
  })
}
