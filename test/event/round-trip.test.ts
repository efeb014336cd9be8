import t from 'tap'
import fc from 'fast-check'
import { CHAT_EVENT_TYPES } from '../../schemas/event-data.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { arbitraryEventData } from '../arbitrary-event.ts'
import { asJson } from '../helpers.ts'

const token = fc.stringMatching(/^[a-z0-9]{32}$/)

for (const type of CHAT_EVENT_TYPES) {
  t.test(`${type}: random typed events survive encode, parse and coerce`, async () => {
    fc.assert(
      fc.property(arbitraryEventData(type), token, token, fc.integer({ min: 0, max: 2 ** 33 }), (data, appToken, accessToken, ts) => {
        const bot = data.bot ? { ...(data.bot as object), auth: { access_token: accessToken, application_token: appToken } } : undefined
        const payload = { event: type, event_handler_id: 7, data: { ...data, ...(bot && { bot }) }, ts, auth: { application_token: appToken, access_token: accessToken, member_id: 'm' } }
        const inbound = decodeBody(encodeForm(payload as PhpValue))
        const printed = JSON.stringify(inbound)
        if (printed.includes(appToken) || printed.includes(accessToken)) throw new Error('a token survived')
        const back = JSON.stringify(asJson(inbound.event.data))
        const sent = JSON.stringify(asJson(data))
        // Key order follows the wire, which follows the payload: compare as canonical JSON.
        if (canonical(back) !== canonical(sent)) throw new Error(`${back}\n!=\n${sent}`)
        if (inbound.event.type !== type || inbound.event.date !== new Date(ts * 1000).toISOString().replace('.000Z', '+00:00')) throw new Error('envelope')
      }),
      { numRuns: 250 },
    )
  })
}

function canonical(json: string): string {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort)
    if (typeof value !== 'object' || value === null) return value
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sort((value as Record<string, unknown>)[key])]))
  }
  return JSON.stringify(sort(JSON.parse(json)))
}
