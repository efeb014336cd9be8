import t from 'tap'
import { replayDeadLetter } from '../../src/worker/replay-dead-letter.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { APP_TOKEN, eventually, readFixture, runCommand, startTestApp } from '../helpers.ts'

// A genuine bot message whose keyboard has 1500 buttons: 7500 pairs and about 550 KB, far under
// the body limit and far over PHP's max_input_vars (1000).
function keyboardEvent(token = APP_TOKEN): string {
  const payload = JSON.parse(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json')) as { auth: Record<string, unknown>; data: { message: { params: Record<string, unknown> } } }
  payload.auth.application_token = token
  payload.data.message.params = { KEYBOARD: Array.from({ length: 1500 }, (_, i) => ({ TEXT: `Option ${i}`, COMMAND: 'pick', COMMAND_PARAMS: String(i), BG_COLOR: '#29619b', BLOCK: 'Y' })) }
  return encodeForm(payload as unknown as PhpValue)
}
const keyboardOf = (event: unknown) => (event as { data: { message: { params: { KEYBOARD: unknown[] } } } }).data.message.params.KEYBOARD

t.test('a 1500-button keyboard is accepted and reaches the handler whole', async (t) => {
  const body = keyboardEvent()
  t.ok(body.split('&').length > 1500 && body.length < 1048576)
  const server = await startTestApp()
  t.teardown(server.close)
  t.equal((await server.post(body)).status, 200)
  await eventually(() => server.handled.length === 1)
  t.equal(keyboardOf(server.handled[0]).length, 1500)
  t.match(keyboardOf(server.handled[0])[1499], { TEXT: 'Option 1499', COMMAND_PARAMS: '1499' })
})

t.test('past a configured limit it is stored (200), dead-lettered by the worker, then replayed once the limit is raised', async (t) => {
  const server = await startTestApp({ formLimits: { maxPairs: 1000 } })
  t.teardown(server.close)
  const response = await server.post(keyboardEvent())
  t.equal(response.status, 200, 'authenticated and within the body limit: stored, not refused')
  await eventually(async () => (await server.store!.deadLetters.list()).length === 1)
  const [letter] = await server.store!.deadLetters.list()
  t.match(letter, { type: 'ONIMBOTV2MESSAGEADD', bodyKind: 'form', error: 'more than 1000 form fields', portal: { domain: 'some-domain.bitrix24.com' } })
  t.notOk(String(letter?.body).includes(APP_TOKEN), 'no token in the kept body')
  t.notOk(String(letter?.body).includes('0b02a0690000071b0008440001b0007a16b39202c2490f015'), "nor the bot's")
  t.match(server.logs.parsed().find((line) => line.level === 40), { msg: /does not decode is kept in the dead letter/, reason: 'more than 1000 form fields' })
  t.same(server.handled, [], 'nothing handled')
  t.match(await server.receiver.health(), { events: { accepted: 1, rejected: 1 } })

  await server.close()
  server.store!.closed = false // opened again by the replay and the next start
  t.same(await replayDeadLetter(server.store!, letter!.id, { maxPairs: 1000 }), { id: letter!.id, replayed: false, reason: 'more than 1000 form fields' }, 'the same limit: still too many')
  t.same(await replayDeadLetter(server.store!, letter!.id, { maxPairs: 10000 }), { id: letter!.id, replayed: true })
  // The receiver decodes it again with its own limits: raised, as FORM_MAX_PAIRS would be.
  const raised = await startTestApp({ store: server.store, formLimits: { maxPairs: 10000 } })
  t.teardown(raised.close)
  await eventually(() => raised.handled.length === 1)
  t.equal(keyboardOf(raised.handled[0]).length, 1500)
})

t.test('dlq replay reads FORM_MAX_PAIRS', async (t) => {
  const dataDir = t.testdir()
  const server = await startTestApp({ dataDir, formLimits: { maxPairs: 1000 } })
  t.equal((await server.post(keyboardEvent())).status, 200)
  const list = async () => (await runCommand(['dlq', 'list', '--json'], { env: { DATA_DIR: dataDir } })).out
  await eventually(async () => (await list()) !== '')
  await server.close()
  const id = (await list()).match(/"id":(\d+)/)?.[1] as string
  t.match(await runCommand(['dlq', 'replay', id], { env: { DATA_DIR: dataDir, FORM_MAX_PAIRS: '1000' } }), { code: 1, out: /more than 1000 form fields/ })
  t.match(await runCommand(['dlq', 'replay', id], { env: { DATA_DIR: dataDir, FORM_MAX_PAIRS: '10000' } }), { code: 0 })
  const raised = await startTestApp({ dataDir, formLimits: { maxPairs: 10000 } })
  await eventually(() => raised.handled.length === 1, 5000)
  // Closed here, not in a teardown: the test directory is removed as the test ends, and a store
  // still open could write in it meanwhile.
  await raised.close()
})

t.test('past the limits without an accepted token it is refused as any other', async (t) => {
  const server = await startTestApp({ formLimits: { maxPairs: 1000 } })
  t.teardown(server.close)
  t.match(await (await server.post(keyboardEvent('wrong'))).json(), { error: 'INVALID_TOKEN' })
  t.equal((await server.post(keyboardEvent('wrong'))).status, 401)
  t.equal((await server.post(`${'a=1&'.repeat(2000)}event=X`)).status, 401)
  t.equal((await server.post(`${'a=1&'.repeat(2000)}`)).status, 400, 'no event type')
  t.same(server.store!.rows, [])
})

t.test('hostile bodies get their quick answer, nothing is handled and the receiver stays healthy', async (t) => {
  const server = await startTestApp({ bodyLimit: 4 * 1048576 })
  t.teardown(server.close)
  const auth = `auth%5Bapplication_token%5D=${APP_TOKEN}`
  const wide = `event=ONIMV2MESSAGEADD&${auth}&${Array.from({ length: 200000 }, (_, i) => `p${i}=1`).join('&')}`
  const deep = `event=ONIMV2MESSAGEADD&${auth}&a${'[x]'.repeat(20000)}=1`
  for (const body of [wide, deep]) t.equal((await server.post(body)).status, 200)
  t.equal((await server.post(wide.replace(APP_TOKEN, 'wrong'))).status, 401)
  await eventually(async () => (await server.store!.deadLetters.list()).length === 2)
  t.match(
    (await server.store!.deadLetters.list()).map((letter) => letter.error),
    ['more than 50000 form fields', 'a form key nests deeper than 64 levels'],
  )
  t.same(server.handled, [])
  t.same(server.receiver.ready(), { ready: true, reason: null })
})
