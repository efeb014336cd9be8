import t from 'tap'
import { Credentials } from '../../src/event/credentials.ts'
import { openDatabase } from '../../src/store/sqlite/open-database.ts'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import { ensureKeyFile } from '../../src/seal/key-file.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { APP_TOKEN, eventually, readFixture, runCommand, startTestApp } from '../helpers.ts'
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
  let fixed = false
  const server = await startTestApp({ dataDir })
  server.receiver.on('ONIMBOTV2MESSAGEADD', () => {
    if (!fixed) throw new Error('the CRM is down')
  })
  t.teardown(server.close)
  const figures = async () => (await server.receiver.health()).inbox
  t.equal((await server.post(withToken('imbot_v2_message_add_webhook'))).status, 200)
  t.equal((await server.post(withToken('im_v2_message_add', (p) => (p.data.message!.id = 'abc')))).status, 200)
  t.equal((await server.post(withToken('im_v2_message_delete', (p) => (p.data.messageId = 'x' as never)))).status, 200)
  await eventually(async () => (await figures())?.deadLetters === 3)

  const listed = await dlq(['list'], dataDir)
  t.equal(listed.code, 0)
  const lines = listed.out.trimEnd().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[1], /^\d+\tONIMV2MESSAGEADD\t\S+Z\tattempts 1\tsome-domain.bitrix24.com\tONIMV2MESSAGEADD does not match its schema: \/data\/message\/id: must be integer$/)
  t.match(lines[0], /^\d+\tONIMBOTV2MESSAGEADD\t.*attempts 3\t.*Error: the CRM is down/)
  // In id order: the bot event (failed its handler), the message and the delete (off their schemas).
  const [bot, message, deleted] = lines.map((line) => line.split('\t')[0] as string)
  const ids = [message, deleted, bot]

  const shown = await dlq(['show', ids[2] as string], dataDir)
  t.match(JSON.parse(shown.out), { type: 'ONIMBOTV2MESSAGEADD', source: 'webhook', bodyKind: 'form', body: /(^|&)data%5Bbot%5D%5Bid%5D=456(&|$)/ })
  const json = await dlq(['list', '--json'], dataDir)
  t.same(
    json.out.trimEnd().split('\n').map((line) => Object.keys(JSON.parse(line))),
    [0, 1, 2].map(() => ['id', 'type', 'receivedAt', 'attempts', 'portal', 'error']),
  )
  t.match(JSON.parse(json.out.split('\n')[1] as string), { id: Number(message), type: 'ONIMV2MESSAGEADD', attempts: 1, portal: { domain: 'some-domain.bitrix24.com' }, error: /must be integer/ })
  for (const output of [listed.out, shown.out, (await dlq(['show', ids[0] as string], dataDir)).out]) {
    for (const secret of [APP_TOKEN, '0b02a0690000071b0008440001b0007a16b39202c2490f015', 'a98b9d69']) t.notOk(output.includes(secret))
  }

  fixed = true
  t.same(await dlq(['replay', ids[2] as string], dataDir), { code: 0, out: `replayed ${ids[2]}\n`, err: '' })
  await eventually(async () => (await figures())?.deadLetters === 2 && (await figures())?.depth === 0)

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
  t.equal((await server.post(withToken('imbot_v2_message_add_webhook', (p) => delete p.data.user!.name))).status, 200)
  await eventually(async () => (await server.receiver.health()).inbox?.deadLetters === 1)
  const store = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1 })
  const [letter] = await store.deadLetters.list()
  const record = await store.deadLetters.record(letter?.id as number)
  const sealer = createSealer((await ensureKeyFile(dataDir)).key)
  t.notOk(record?.credentials?.includes('0b02a0690000071b0008440001b0007a16b39202c2490f015'), 'sealed')
  t.equal(Credentials.parse(sealer.open(record?.credentials as string)).bot?.access_token, '0b02a0690000071b0008440001b0007a16b39202c2490f015', 'kept apart')
  t.notOk(record?.body.includes('0b02a0690000071b0008440001b0007a16b39202c2490f015'), 'and not in the body')
  await store.close()
  // The fix: here, the wire is mended in place, as a schema change would accept it.
  const db = openDatabase(dataDir)
  db.prepare("UPDATE inbox SET body = body || '&data%5Buser%5D%5Bname%5D=Restored' WHERE id = ?").run(letter?.id)
  db.close()
  let credentials: Credentials | undefined
  server.receiver.onAny((_event, ctx) => void (credentials = ctx.credentials))
  t.same(await dlq(['replay', String(letter?.id)], dataDir), { code: 0, out: `replayed ${letter?.id}\n`, err: '' })
  await eventually(() => server.handled.length === 1)
  t.match(server.handled[0], { type: 'ONIMBOTV2MESSAGEADD', data: { user: { name: 'Restored' }, bot: { id: 456 } } })
  t.notOk('auth' in ((server.handled[0]?.data as { bot: object }).bot))
  t.equal(credentials?.bot?.access_token, '0b02a0690000071b0008440001b0007a16b39202c2490f015', 'the replayed event has its bot credentials back')
  t.equal(credentials?.applicationToken, APP_TOKEN)
})

t.test('lists long reasons in short, and a portal it does not know as -', async (t) => {
  const dataDir = t.testdir()
  const server = await startTestApp({ dataDir })
  t.teardown(server.close)
  const response = await server.post(JSON.stringify({ event: 'ONIMV2JOINCHAT', ts: 1, auth: { application_token: APP_TOKEN }, data: { dialogId: 'chat5' } }), 'application/json')
  t.equal(response.status, 200)
  await eventually(async () => (await server.receiver.health()).inbox?.deadLetters === 1)
  const { out } = await dlq(['list'], dataDir)
  t.match(out, /^\d+\tONIMV2JOINCHAT\t\S+\tattempts 1\t-\tONIMV2JOINCHAT does not match its schema: .{40,}…\n$/)
  t.equal(out.split('\t').at(-1)?.length, 101)
})

t.test('says how to use it', async (t) => {
  const dataDir = t.testdir()
  t.match(await dlq([], dataDir), { code: 1, err: /usage: b24-receiver dlq list \[--json\] \| show ID/ })
  t.match(await dlq(['show'], dataDir), { code: 1, err: /give a dead letter id/ })
  t.match(await dlq(['drop', 'x1'], dataDir), { code: 1, err: /give a dead letter id/ })
  t.same(await dlq(['list'], dataDir), { code: 0, out: 'the dead letter is empty\n', err: '' })
  t.same(await dlq(['list', '--json'], dataDir), { code: 0, out: '', err: '' }, 'nothing for an empty list')
  t.same(await dlq(['replay', '--all'], dataDir), { code: 0, out: 'the dead letter is empty: nothing to replay\n', err: '' }, 'replaying all of none says so')
  const file = t.testdir({ f: 'x' }) + '/f'
  t.match(await dlq(['list'], file), { code: 1, err: /b24-receiver dlq: cannot open the inbox in DATA_DIR/ })
})

t.test('purges the dead letters older than --older-than, or than DLQ_RETENTION_DAYS, and says how many', async (t) => {
  const dataDir = t.testdir()
  const store = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1 })
  for (const text of ['a', 'b', 'c', 'd']) await store.append({ chatKey: `chat:${text}`, type: 'ONIMV2MESSAGEADD', source: 'webhook', portal: { domain: null, memberId: null, clientEndpoint: null }, bodyKind: 'payload', body: JSON.stringify({ text }), credentials: null })
  for (const record of await store.queue.claim(10)) await store.queue.bury(record, 8, 'Error: down')
  await store.close()
  // Their last attempts: 40 days, 2 days, 13 hours ago, and now.
  const db = openDatabase(dataDir)
  const ago = (ms: number) => Date.now() - ms
  for (const [text, at] of [['a', ago(40 * 86_400_000)], ['b', ago(2 * 86_400_000)], ['c', ago(13 * 3_600_000)]] as const) db.prepare('UPDATE inbox SET next_at = ? WHERE body LIKE ?').run(at, `%"${text}"%`)
  db.close()
  const texts = async () => (await dlq(['list', '--json'], dataDir)).out.trimEnd().split('\n').filter(Boolean).length

  t.same(await dlq(['purge'], dataDir), { code: 0, out: 'dropped 1 dead letter older than 30d\n', err: '' }, 'DLQ_RETENTION_DAYS by default')
  t.same(await runCommand(['dlq', 'purge'], { env: { DATA_DIR: dataDir, DLQ_RETENTION_DAYS: '1' } }), { code: 0, out: 'dropped 1 dead letter older than 1d\n', err: '' })
  t.same(await dlq(['purge', '--older-than', '24h'], dataDir), { code: 0, out: 'dropped 0 dead letters older than 1d\n', err: '' })
  t.same(await dlq(['purge', '--older-than=720m'], dataDir), { code: 0, out: 'dropped 1 dead letter older than 12h\n', err: '' })
  t.equal(await texts(), 1, 'the one of now kept')
  t.same(await dlq(['purge', '--older-than', '0m'], dataDir), { code: 0, out: 'dropped 1 dead letter older than 0d\n', err: '' }, 'all of them')
  t.same(await dlq(['list'], dataDir), { code: 0, out: 'the dead letter is empty\n', err: '' })
})

t.test('a bad --older-than is one line and a non-zero exit, naming no value; nothing dropped', async (t) => {
  const dataDir = t.testdir()
  const bad = 'b24-receiver dlq: --older-than takes a whole number of days, hours or minutes: 30d, 12h, 90m\n'
  for (const value of ['30', '1.5d', '-1d', '2w', 'soon', '']) t.same(await dlq(['purge', '--older-than', value], dataDir), { code: 1, out: '', err: bad }, JSON.stringify(value))
  t.same(await dlq(['purge', '--older-than'], dataDir), { code: 1, out: '', err: bad }, 'no value')
  t.same(await dlq(['purge', '--older-than=x'], dataDir), { code: 1, out: '', err: bad })
  for (const args of [['--before', '1d'], ['--older-than', '1d', 'extra'], ['1d']]) t.match(await dlq(['purge', ...args], dataDir), { code: 1, out: '', err: /^b24-receiver dlq: usage: .*purge \[--older-than DURATION\]\n$/ })
})
