import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { openPipeline } from '../../src/pipeline/open-pipeline.ts'
import { Router } from '../../src/router/router.ts'
import { captureLogs, eventually, readFixture, TEST_SETTINGS } from '../helpers.ts'

t.test('an unusable DATA_DIR refuses events with 503 and says why, until it is fixed', async (t) => {
  const parent = t.testdir()
  const dataDir = join(parent, 'data')
  writeFileSync(dataDir, 'a file where the directory should be')
  const logs = captureLogs()
  const router = new Router()
  const handled: string[] = []
  router.onAny((event) => void handled.push(event.type))
  const pipeline = openPipeline({ dataDir, ...TEST_SETTINGS }, router, pino(logs.stream), 20)
  t.teardown(() => pipeline.close())
  const inbound = decodeBody(readFixture('bitrix/im_v2_message_add.body.txt'))
  await t.rejects(pipeline.accept(inbound), { name: 'InboxUnavailableError', statusCode: 503, message: /cannot open the inbox in DATA_DIR .*: EEXIST/ })
  await t.rejects(pipeline.reject({} as never), { name: 'InboxUnavailableError', statusCode: 503 })
  t.match(pipeline.unavailable(), /cannot open the inbox/)
  t.equal(pipeline.inbox(), null)
  t.same(pipeline.stats(), { accepted: 0, duplicates: 0, rejected: 0, failed: 0, inFlight: 0, lastEventAt: null, inbox: null })
  t.equal(await pipeline.drain(10), true)
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(logs.parsed().filter((line) => line.level === 50).length, 1, 'said once, not at every retry')
  rmSync(dataDir)
  mkdirSync(dataDir)
  await eventually(() => pipeline.unavailable() === null)
  await pipeline.accept(inbound)
  await eventually(() => handled.length === 1)
  t.match(logs.parsed().at(-1), { msg: 'the inbox is available again' })
  t.match(pipeline.stats(), { accepted: 1, inbox: { depth: 0 } })
})

t.test('an inbox that stops taking writes turns unavailable and leaves its figures out', async (t) => {
  const router = new Router()
  const pipeline = openPipeline({ dataDir: t.testdir(), ...TEST_SETTINGS }, router, pino({ level: 'silent' }))
  const inbox = pipeline.inbox()
  t.ok(inbox)
  inbox?.close()
  await t.rejects(pipeline.accept(decodeBody(readFixture('bitrix/im_v2_message_add.body.txt'))), { name: 'InboxUnavailableError', statusCode: 503 })
  t.equal(pipeline.unavailable(), 'the inbox cannot be written')
  t.equal(pipeline.stats().inbox, null)
})
