import { justWait } from '../../../src/wait.ts'
import t from 'tap'
import { pino } from 'pino'
import type { PortalRow } from '../../../schemas/portal.ts'
import type { Bitrix } from '../../../src/bitrix/bitrix.ts'
import { Credentials } from '../../../src/event/credentials.ts'
import { NewerFormatError } from '../../../src/store/newer-format-error.ts'
import { admission, NEWER_PORTAL_WAIT_MS, type Admission, type Admitter } from '../../../src/worker/steps/admission.ts'
import type { Attempt } from '../../../src/worker/steps/attempt.ts'
import { newRecord, PORTAL } from '../../fakes/new-record.ts'
import { captureLogs } from '../../helpers.ts'

const ROW = { memberId: PORTAL.memberId, domain: PORTAL.domain, status: 'active' } as PortalRow
const credentials = new Credentials({ application_token: 'app-token', member_id: PORTAL.memberId, domain: PORTAL.domain })

/** An application that answers `verdict`, noting what it is asked. */
function application(verdict: Admission) {
  const asked: string[] = []
  const bitrix: Bitrix = { call: async () => Promise.reject(new Error('not called here')) }
  const app: Admitter = {
    admission: async (type, given) => {
      asked.push(`${type} ${given.portal.memberId}`)
      return verdict
    },
    portal: (memberId) => {
      asked.push(`portal ${memberId}`)
      return bitrix
    },
  }
  return { app, asked, bitrix }
}

/** Runs the step on an attempt at a record from `source`, and tells whether the chain went on. */
async function admit(app: Admitter, source: 'webhook' | 'poll', logger = pino({ level: 'silent' })) {
  const attempt: Attempt = {
    record: { ...newRecord(1, 'hi', { source }), id: 7, attempts: 0, receivedAt: 0 },
    number: 1,
    signal: new AbortController().signal,
    wait: justWait,
    decoded: { event: { eventId: null, type: 'ONIMV2MESSAGEADD', date: '', data: {} } as never, delivery: { source, portal: PORTAL, handlerId: null, credentials } },
  }
  let went = false
  await admission(app, logger)(attempt, async () => void (went = true))
  return { attempt, went }
}

t.test('a webhook event its portal still wants goes on with the stored row and the client that calls it as the application', async (t) => {
  const { app, asked, bitrix } = application({ verdict: 'handle', portal: ROW })
  const { attempt, went } = await admit(app, 'webhook')
  t.ok(went)
  t.same(asked, [`ONIMV2MESSAGEADD ${PORTAL.memberId}`, `portal ${PORTAL.memberId}`], 'asked with the opened credentials')
  t.equal(attempt.portal?.row, ROW)
  t.equal(attempt.portal?.bitrix, bitrix)
  t.equal(attempt.skipped, undefined)
})

t.test('one wanted with no stored portal (a B24_APP_TOKENS entry accepts it) goes on without one', async (t) => {
  const { app } = application({ verdict: 'handle', portal: null })
  const { attempt, went } = await admit(app, 'webhook')
  t.ok(went)
  t.equal(attempt.portal, undefined)
})

t.test('one its portal forgot stops the chain, skipped as forgotten, and says so by type and ids only', async (t) => {
  const { app } = application({ verdict: 'forget' })
  const logs = captureLogs()
  const { attempt, went } = await admit(app, 'webhook', pino(logs.stream))
  t.notOk(went)
  t.equal(attempt.skipped, 'forgotten')
  t.match(logs.parsed(), [{ msg: 'dropped an event of a portal that was refused or uninstalled', type: 'ONIMV2MESSAGEADD', memberId: PORTAL.memberId, inboxId: 7 }])
  t.notMatch(logs.text(), /app-token/)
})

t.test('a polled event is not asked about: it came through the configured inbound webhook', async (t) => {
  const { app, asked } = application({ verdict: 'forget' })
  const { attempt, went } = await admit(app, 'poll')
  t.ok(went)
  t.same(asked, [])
  t.equal(attempt.portal, undefined)
})

t.test('one whose portal a newer version stored is postponed a minute, spending no attempt; any other failure is the attempt’s', async (t) => {
  const failing = (error: Error): Admitter => ({ admission: async () => Promise.reject(error), portal: () => ({ call: async () => Promise.reject(new Error('not called here')) }) })
  const newer = admit(failing(new NewerFormatError('this event’s portal', 2)), 'webhook')
  await t.rejects(newer, { name: 'Postponed', delayMs: NEWER_PORTAL_WAIT_MS, message: /stored by a newer version .*upgrade this replica/ })
  t.equal(NEWER_PORTAL_WAIT_MS, 60000)
  const down = new Error('database down')
  await t.rejects(admit(failing(down), 'webhook'), down)
})
