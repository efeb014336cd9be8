import t from 'tap'
import fc from 'fast-check'
import { CHAT_EVENT_TYPES } from '../../schemas/event-data.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { arbitraryEventData } from '../arbitrary-event.ts'
import { expectedData } from '../fixtures/expected-data.ts'
import { asJson } from '../helpers.ts'

const token = fc.stringMatching(/^[a-z0-9]{32}$/)

// Key order follows the wire, which follows the payload: compare as canonical JSON.
const canonical = (value: unknown): string => JSON.stringify(sorted(asJson(value)))
const sorted = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sorted)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])]))
}

for (const [index, type] of CHAT_EVENT_TYPES.entries()) {
  t.test(`${type}: random events read the same through either door, as the contract says`, async () => {
    fc.assert(
      fc.property(arbitraryEventData(type), token, token, fc.integer({ min: 0, max: 2 ** 33 }), (data, appToken, accessToken, ts) => {
        const bot = data.bot ? { ...(data.bot as object), auth: { access_token: accessToken, application_token: appToken } } : undefined
        const payload = { event: type, event_handler_id: 7, data: { ...data, ...(bot && { bot }) }, ts, auth: { application_token: appToken, access_token: accessToken, member_id: 'm' } }
        const expected = canonical(expectedData(type, data))
        const inbound = decodeBody(encodeForm(payload as PhpValue))
        const printed = JSON.stringify(inbound)
        if (printed.includes(appToken) || printed.includes(accessToken)) throw new Error('a token survived')
        if (canonical(inbound.event.data) !== expected) throw new Error(`webhook:\n${canonical(inbound.event.data)}\n!=\n${expected}`)
        if (inbound.event.type !== type || inbound.event.date !== new Date(ts * 1000).toISOString().replace('.000Z', '+00:00')) throw new Error('envelope')
        const polled = decodeBody(JSON.stringify({ eventId: 1, type, date: 'd', data: payload.data }))
        if (canonical(polled.event.data) !== expected) throw new Error(`poll:\n${canonical(polled.event.data)}\n!=\n${expected}`)
      }),
      { numRuns: 100, seed: 20261124 + index },
    )
  })
}
