import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { createContext } from '../../src/router/create-context.ts'
import { Router } from '../../src/router/router.ts'
import { Waits } from '../../src/wait.ts'
import type { NormalizedEvent } from '../../src/event/decoded-event.ts'
import { captureLogs, readFixture } from '../helpers.ts'

const inbound = (name: string) => decodeBody(readFixture(`bitrix/${name}.body.txt`))
const logs = captureLogs()
const logger = pino(logs.stream)

t.test('routes an event to the handlers of its type, typed for it, then to onAny', async (t) => {
  const router = new Router()
  const seen: string[] = []
  router.on('ONIMBOTV2MESSAGEADD', (event) => {
    // `data` is narrowed from the type: these read as numbers and strings without a cast.
    const id: number = event.data.message.id
    const code: string = event.data.bot.code
    seen.push(`message ${id} to ${code}`)
    // @ts-expect-error ONIMBOTV2MESSAGEADD has no `messageId`
    void event.data.messageId
  })
  router.on(['ONIMV2MESSAGEDELETE', 'ONIMBOTV2MESSAGEDELETE'], (event) => {
    const id: number = event.data.messageId
    seen.push(`deleted ${id}`)
    // @ts-expect-error a delete event carries no message
    void event.data.message
  })
  router.onAny((event) => void seen.push(`any ${event.type}`))
  router.onUnknown((event) => void seen.push(`unknown ${event.type}`))
  for (const name of ['imbot_v2_message_add_webhook', 'im_v2_message_delete', 'v1_onimbotmessageadd', 'im_v2_join_chat']) {
    const { event, ...rest } = inbound(name)
    const result = await router.dispatch(event, createContext({ event, ...rest }, logger))
    t.same(result.errors, [])
  }
  t.same(seen, ['message 789 to support_bot', 'any ONIMBOTV2MESSAGEADD', 'deleted 5012', 'any ONIMV2MESSAGEDELETE', 'unknown ONIMBOTMESSAGEADD', 'any ONIMBOTMESSAGEADD', 'any ONIMV2JOINCHAT'])
})

t.test('refuses a misspelled type when a handler is registered', async (t) => {
  const router = new Router()
  // @ts-expect-error not one of the 13 chat events
  t.throws(() => router.on('ONIMBOTV2MESAGEADD', () => undefined), { name: 'TypeError', message: /unknown event type 'ONIMBOTV2MESAGEADD': expected one of ONIMV2MESSAGEADD/ })
  // @ts-expect-error unknown types go to onUnknown
  t.throws(() => router.on(['ONIMV2MESSAGEADD', 'ONCRMDEALADD'], () => undefined), TypeError)
})

t.test('a failing handler never stops the others, and onError hears it', async (t) => {
  const router = new Router()
  const seen: unknown[] = []
  router.on('ONIMV2JOINCHAT', () => {
    throw new Error('sync failure')
  })
  router.on('ONIMV2JOINCHAT', async () => {
    throw new Error('async failure')
  })
  router.onAny(() => void seen.push('still ran'))
  router.onError((error, event, ctx) => void seen.push(`${(error as Error).message} in ${event.type} #${ctx.attempt}`))
  router.onError(() => {
    throw new Error('the error handler itself fails')
  })
  const input = inbound('im_v2_join_chat')
  const result = await router.dispatch(input.event, createContext(input, logger, { attempt: 2 }))
  t.equal(result.handled, 3)
  t.same(result.errors.map((error) => (error as Error).message), ['sync failure', 'async failure'])
  t.same(seen, ['sync failure in ONIMV2JOINCHAT #2', 'async failure in ONIMV2JOINCHAT #2', 'still ran'])
  t.match(logs.text(), /an onError handler failed/)
})

t.test('gives handlers the portal, a tagged logger, the credentials and the source', async (t) => {
  const router = new Router()
  let context: Parameters<Parameters<Router['onAny']>[0]>[1] | undefined
  router.onAny((_event: NormalizedEvent, ctx) => {
    context = ctx
    ctx.log.info('hello')
  })
  const input = inbound('capture_imbot_v2_message_add_2026_09_16')
  await router.dispatch(input.event, createContext(input, logger))
  t.same(context?.portal, input.delivery.portal)
  t.equal(context?.source, 'webhook')
  t.equal(context?.attempt, 1)
  t.equal(context?.credentials.bot?.access_token, 'accesstoken00000000000000000000000000000000000000000000000000000000000')
  t.match(JSON.parse(logs.lines.at(-1) as string), { msg: 'hello', type: 'ONIMBOTV2MESSAGEADD', portal: 'teplodar.bitrix24.ru' })
  const polled = decodeBody(JSON.stringify({ eventId: 9, type: 'ONAPPTEST', date: 'd', data: {} }))
  await router.dispatch(polled.event, createContext(polled, logger))
  t.equal(context?.source, 'poll')
  t.match(JSON.parse(logs.lines.at(-1) as string), { msg: 'hello', type: 'ONAPPTEST', portal: null })
})

t.test('a handler past its time fails the dispatch; the others run; one that returns nothing is not timed', async (t) => {
  // The limit's timer does not keep a process alive (a server does): this test's interval does.
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  const router = new Router({ handlerTimeoutMs: 20 })
  let release = () => {}
  const ran: string[] = []
  router.onAny(() => new Promise<void>((resolve) => (release = resolve)))
  router.onAny(() => void ran.push('sync'))
  const used = new Router().onAny(() => new Promise(() => {}))
  router.use(used)
  const input = inbound('im_v2_message_add')
  const result = await router.dispatch(input.event, createContext(input, logger))
  release()
  t.equal(result.handled, 3)
  t.same(ran, ['sync'])
  t.equal(result.errors.length, 2, "the used router's handler is timed by the dispatcher's limit")
  t.match(result.errors, [{ name: 'HandlerTimeoutError', message: 'the handler did not finish within 20 ms' }, { name: 'HandlerTimeoutError' }])
  const none = await new Router().onAny(() => new Promise((resolve) => setImmediate(resolve))).dispatch(input.event, createContext(input, logger))
  t.same(none.errors, [], 'no limit by default')
})

t.test("a handler's time stands still while its attempt waits for room outside it (its portal's REST bucket)", async (t) => {
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  const input = inbound('im_v2_message_add')
  const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  const waits = new Waits()
  const waited = new Router({ handlerTimeoutMs: 40 }).use(new Router().onAny(async () => waits.wait(later(120))))
  t.same((await waited.dispatch(input.event, createContext(input, logger), undefined, waits)).errors, [], 'three times its limit waiting, through a used router: no timeout')

  // 25 ms running, a wait, 25 ms running again: 50 ms of its own past a 40 ms limit.
  const slow = new Router({ handlerTimeoutMs: 40 }).onAny(async () => {
    await later(25)
    await waits.wait(later(60))
    await later(25)
  })
  const result = await slow.dispatch(input.event, createContext(input, logger), undefined, waits)
  t.match(result.errors, [{ name: 'HandlerTimeoutError' }], 'the time before and after the wait adds up')

  // The next handler begins while a wait the first left running is under way: its time starts when
  // that ends (60 ms of it, 20 ms past the end of the wait, within 40).
  const overlap = new Router({ handlerTimeoutMs: 40 })
    .onAny(() => void waits.wait(later(80)))
    .onAny(() => (waits.waiting ? later(60) : Promise.reject(new Error('no wait under way'))))
  t.same((await overlap.dispatch(input.event, createContext(input, logger), undefined, waits)).errors, [])
})
