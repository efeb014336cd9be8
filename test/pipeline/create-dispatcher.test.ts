import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { createDispatcher } from '../../src/pipeline/create-dispatcher.ts'
import { Router } from '../../src/router/router.ts'
import { captureLogs, readFixture } from '../helpers.ts'

const input = () => decodeBody(readFixture('bitrix/im_v2_message_add.body.txt'))

t.test('hands accepted events to the router in the background and counts them', async (t) => {
  const logs = captureLogs()
  const router = new Router()
  let release = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const seen: string[] = []
  router.onAny(async (event) => {
    await gate
    seen.push(event.type)
  })
  router.on('ONIMV2MESSAGEADD', () => {
    throw new Error('boom')
  })
  const pipeline = createDispatcher(router, pino(logs.stream))
  await pipeline.accept(input())
  t.match(pipeline.stats(), { accepted: 1, inFlight: 1, failed: 0, lastEventAt: String })
  t.equal(await pipeline.drain(20), false, 'a handler still running past the deadline')
  release()
  t.equal(await pipeline.drain(1000), true)
  t.same(seen, ['ONIMV2MESSAGEADD'])
  t.match(pipeline.stats(), { accepted: 1, inFlight: 0, failed: 1 })
  t.match(logs.parsed(), [{ msg: 'handlers failed', failures: 1, handlers: 2 }])
})
