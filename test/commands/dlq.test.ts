import t from 'tap'
import { Inbox } from '../../src/inbox/inbox.ts'
import { openDatabase } from '../../src/inbox/open-database.ts'
import { APP_TOKEN, eventually, readFixture, runCommand, startTestApp } from '../helpers.ts'
import { Router } from '../../src/router/router.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'

const dlq = (args: string[], dataDir: string) => runCommand(['dlq', ...args], { env: { DATA_DIR: dataDir } })

const withToken = (name: string, edit: (payload: { auth: Record<string, unknown>; data: Record<string, Record<string, unknown>> }) => void = () => {}) => {
  const payload = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { auth: Record<string, unknown>; data: Record<string, Record<string, unknown>> }
  payload.auth.application_token = APP_TOKEN
  edit(payload)
  return encodeForm(payload as unknown as PhpValue)
}

t.test('lists, shows, replays and drops dead letters of a running service, never printing credentials', async (t) => {
  const dataDir = t.testdir()
  const router = new Router()
  let fixed = false
  router.on('ONIMBOTV2MESSAGEADD', () => {
    if (!fixed) throw new Error('the CRM is down')
  })
  const server = await startTestApp({ router, dataDir })
  t.teardown(server.close)
  t.equal((await server.post(withToken('imbot_v2_message_add_webhook'))).status, 200)
  t.equal((await server.post(withToken('im_v2_message_add', (p) => (p.data.message!.id = 'abc')))).status, 422)
  t.equal((await server.post(withToken('im_v2_message_delete', (p) => (p.data.messageId = 'x' as never)))).status, 422)
  await eventually(() => server.pipeline.stats().inbox?.deadLetters === 3)

  const listed = await dlq(['list'], dataDir)
  t.equal(listed.code, 0)
  const lines = listed.out.trimEnd().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[1], /^\d+\tONIMV2MESSAGEADD\t\S+Z\tattempts 0\tsome-domain.bitrix24.com\tONIMV2MESSAGEADD does not match its schema: \/data\/message\/id: must be integer$/)
  t.match(lines[0], /^\d+\tONIMBOTV2MESSAGEADD\t.*attempts 3\t.*Error: the CRM is down/)
  // In id order: the bot event (failed its handler), the message (422), the delete (422).
  const [bot, message, deleted] = lines.map((line) => line.split('\t')[0] as string)
  const ids = [message, deleted, bot]

  const shown = await dlq(['show', ids[2] as string], dataDir)
  t.match(JSON.parse(shown.out), { type: 'ONIMBOTV2MESSAGEADD', event: { eventId: null, data: { bot: { id: 456 } } } })
  for (const output of [listed.out, shown.out, (await dlq(['show', ids[0] as string], dataDir)).out]) {
    for (const secret of [APP_TOKEN, '0b02a0690000071b0008440001b0007a16b39202c2490f015', 'a98b9d69']) t.notOk(output.includes(secret))
  }

  fixed = true
  t.same(await dlq(['replay', ids[2] as string], dataDir), { code: 0, out: `replayed ${ids[2]}\n`, err: '' })
  await eventually(() => server.pipeline.stats().inbox?.deadLetters === 2 && server.pipeline.stats().inbox?.depth === 0)

  const still = await dlq(['replay', '--all'], dataDir)
  t.equal(still.code, 1)
  t.match(still.out, new RegExp(`not replayed ${ids[0]}: ONIMV2MESSAGEADD does not match its schema`))
  t.same(await dlq(['drop', ids[1] as string], dataDir), { code: 0, out: `dropped ${ids[1]}\n`, err: '' })
  t.match(await dlq(['drop', ids[1] as string], dataDir), { code: 1, err: `b24-receiver dlq: no dead letter ${ids[1]}\n` })
  t.match(await dlq(['show', '999'], dataDir), { code: 1, err: /no dead letter 999/ })
  t.match(await dlq(['replay', '999'], dataDir), { code: 1, out: 'not replayed 999: no dead letter with this id\n' })
})

t.test('replays an event that failed its schema once the data is right', async (t) => {
  const dataDir = t.testdir()
  const server = await startTestApp({ dataDir })
  t.teardown(server.close)
  // A bot event whose user lacks a required field: stored with its bot's credentials apart.
  t.equal((await server.post(withToken('imbot_v2_message_add_webhook', (p) => delete p.data.user!.name))).status, 422)
  const inbox = new Inbox(openDatabase(dataDir), { dedupWindowMs: 1 })
  const [letter] = inbox.deadLetters()
  // The fix: here, the data is mended in place, as a schema change would accept it.
  const source = inbox.deadLetterSource(letter?.id as number)
  t.equal(source?.credentials.bot?.access_token, '0b02a0690000071b0008440001b0007a16b39202c2490f015')
  openDatabase(dataDir)
    .prepare("UPDATE events SET raw_json = json_set(raw_json, '$.data.user.name', 'Restored') WHERE id = ?")
    .run(letter?.id)
  inbox.close()
  t.same(await dlq(['replay', String(letter?.id)], dataDir), { code: 0, out: `replayed ${letter?.id}\n`, err: '' })
  await eventually(() => server.handled.length === 1)
  t.match(server.handled[0], { type: 'ONIMBOTV2MESSAGEADD', data: { user: { name: 'Restored' }, bot: { id: 456 } } })
  t.notOk('auth' in ((server.handled[0]?.data as { bot: object }).bot))
})

t.test('lists long reasons in short, and a portal it does not know as -', async (t) => {
  const dataDir = t.testdir()
  const server = await startTestApp({ dataDir })
  t.teardown(server.close)
  const response = await server.post(JSON.stringify({ event: 'ONIMV2JOINCHAT', ts: 1, auth: { application_token: APP_TOKEN }, data: { dialogId: 'chat5' } }), 'application/json')
  t.equal(response.status, 422)
  const { out } = await dlq(['list'], dataDir)
  t.match(out, /^\d+\tONIMV2JOINCHAT\t\S+\tattempts 0\t-\tONIMV2JOINCHAT does not match its schema: .{40,}…\n$/)
  t.equal(out.split('\t').at(-1)?.length, 101)
})

t.test('says how to use it', async (t) => {
  const dataDir = t.testdir()
  t.match(await dlq([], dataDir), { code: 1, err: /usage: b24-receiver dlq list \| show ID/ })
  t.match(await dlq(['show'], dataDir), { code: 1, err: /give a dead letter id/ })
  t.match(await dlq(['drop', 'x1'], dataDir), { code: 1, err: /give a dead letter id/ })
  t.same(await dlq(['list'], dataDir), { code: 0, out: 'the dead letter is empty\n', err: '' })
  const file = t.testdir({ f: 'x' }) + '/f'
  t.match(await dlq(['list'], file), { code: 1, err: /b24-receiver dlq: cannot open the inbox in DATA_DIR/ })
})
