import t from 'tap'
import { ClaimLostError } from '../../src/store/claim-lost-error.ts'
import { APP_TOKEN, eventually, readFixture, startTestApp } from '../helpers.ts'

// A claim that lapses while its handler runs (the store tells through the record's `lost`, as
// PostgreSQL's renewal does when it finds the claim gone): the handler sees ctx.signal abort,
// its REST calls reject, nothing of the attempt is written, and the record's new holder handles it.

const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt').replaceAll('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN)

t.test('a handler whose claim is lost sees ctx.signal abort, its calls reject, and its attempt writes nothing', async (t) => {
  const { receiver, store, post, logs, inject, close } = await startTestApp()
  t.teardown(close)
  const attempts: Array<{ attempt: number; aborted: boolean; call?: unknown }> = []
  let started = () => {}
  const running = new Promise<void>((resolve) => (started = resolve))
  receiver.on('ONIMBOTV2MESSAGEADD', async (_event, ctx) => {
    const seen: (typeof attempts)[number] = { attempt: ctx.attempt, aborted: ctx.signal.aborted }
    attempts.push(seen)
    if (attempts.length > 1) return
    started()
    // The first holder waits on what its claim tells, as a handler passing ctx.signal on would.
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
    seen.aborted = ctx.signal.aborted
    seen.call = await ctx.bitrix.call('imbot.v2.Chat.Message.send', { dialogId: 'chat1', fields: { message: 'late' } }).catch((error: unknown) => error)
    throw new Error('a handler failing after its claim was lost: no retry is written for it')
  })
  t.equal((await post(body)).status, 200)
  await running
  const fake = store as NonNullable<typeof store>
  const [row] = fake.rows
  fake.loseClaim((row as { id: number }).id)
  await eventually(() => attempts.length === 2 && fake.rows[0]?.status === 'done')
  t.match(attempts[0], { attempt: 1, aborted: true }, 'the first holder saw its signal abort')
  t.type(attempts[0]?.call, ClaimLostError, 'its REST call after that rejected, sent nowhere')
  t.match(attempts[1], { attempt: 1, aborted: false }, 'the new holder ran it as the same attempt: the lost one spent none')
  t.match(fake.rows[0], { status: 'done', attempts: 0, error: null }, 'handled once by its new holder, nothing of the lost attempt written')
  await eventually(() => logs.parsed().some((line) => String(line.msg).startsWith('the claim on this event was lost')))
  const lost = logs.parsed().filter((line) => String(line.msg).startsWith('the claim on this event was lost'))
  t.equal(lost.length, 1, 'one warn line')
  t.match(lost[0], { level: 40, inboxId: (row as { id: number }).id, type: 'ONIMBOTV2MESSAGEADD' }, 'naming the record')
  t.match(await (await inject({ method: 'GET', url: '/health' })).json(), { events: { claimsLost: 1 } }, '/health counts it')
})
