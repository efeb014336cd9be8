import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { eventRecord } from '../../src/ingest/records.ts'
import { createDispatch, HandlersFailedError } from '../../src/receiver/create-dispatch.ts'
import { Router } from '../../src/router/router.ts'
import type { StoredRecord } from '../../src/store/store.ts'
import { readFixture } from '../helpers.ts'

const stored = (name: string): StoredRecord => ({ ...eventRecord(decodeBody(readFixture(`bitrix/${name}.body.txt`))), id: 1, attempts: 0, receivedAt: 0 })
const logger = pino({ level: 'silent' })

t.test('runs the handlers, then the sinks, with the event and its context', async (t) => {
  const router = new Router()
  const seen: string[] = []
  router.on('ONIMBOTV2MESSAGEADD', (event, ctx) => void seen.push(`handler ${event.data.message.text} ${ctx.attempt} ${ctx.source} ${ctx.credentials.bot?.access_token}`))
  const record = stored('imbot_v2_message_add_webhook')
  await createDispatch({ router, sinks: [(event, ctx) => void seen.push(`sink ${event.type} ${ctx.key === record.key}`)], logger, handlerTimeoutMs: 1000 })(record, 2)
  t.same(seen, ['handler Hello bot! 2 webhook 0b02a0690000071b0008440001b0007a16b39202c2490f015', 'sink ONIMBOTV2MESSAGEADD true'])
})

t.test('a failing handler fails the attempt with every error, and the sinks do not run', async (t) => {
  const router = new Router().onAny(() => {
    throw new Error('first')
  })
  router.onAny(() => Promise.reject(new TypeError('second')))
  const sunk: unknown[] = []
  const dispatch = createDispatch({ router, sinks: [(event) => void sunk.push(event)], logger, handlerTimeoutMs: 1000 })
  const failure = await dispatch(stored('im_v2_message_add'), 1).catch((error: unknown) => error)
  t.ok(failure instanceof HandlersFailedError)
  t.match(failure, { message: 'Error: first; TypeError: second', errors: [{ message: 'first' }, { message: 'second' }] })
  t.same(sunk, [])
  router.onAny(() => Promise.reject('a string'))
  t.match(await dispatch(stored('im_v2_message_add'), 2).catch((error: unknown) => error), { message: /; a string$/ })
})

t.test('a failing sink retries the sinks alone: the handlers never run twice for it', async (t) => {
  let handled = 0
  const router = new Router().onAny(() => void handled++)
  let sinkFails = true
  const dispatch = createDispatch({
    router,
    sinks: [
      () => {
        if (sinkFails) throw new Error('disk full')
      },
    ],
    logger,
    handlerTimeoutMs: 1000,
  })
  const record = stored('im_v2_message_add')
  await t.rejects(dispatch(record, 1), { message: 'disk full' })
  await t.rejects(dispatch({ ...record, attempts: 1 }, 2), { message: 'disk full' })
  sinkFails = false
  await dispatch({ ...record, attempts: 2 }, 3)
  t.equal(handled, 1)
  await dispatch(stored('im_v2_message_update'), 1)
  await dispatch(record, 1)
  t.equal(handled, 3, 'other events, and the same one once done (a replay), run their handlers')
})
