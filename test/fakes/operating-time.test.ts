import t from 'tap'
import { ManualClock } from './manual-clock.ts'
import { DEFAULT_OPERATING_LIMIT_S, OperatingTime } from './operating-time.ts'

// 2026-01-01T00:00:00Z, a minute's start.
const START = 1767225600000

t.test('a method sums its time over ten one-minute buckets; operating_reset_at is when the oldest leaves', async (t) => {
  const clock = new ManualClock(START)
  const time = new OperatingTime(() => clock.now())
  t.equal(time.limitS, DEFAULT_OPERATING_LIMIT_S)
  t.same(time.figures('crm.deal.list'), { operating: 0, operating_reset_at: START / 1000 }, 'nothing counted: now')
  clock.advance(30_000)
  time.spend('crm.deal.list', 2)
  clock.advance(60_000) // the next minute
  time.spend('crm.deal.list', 3)
  time.spend('user.get', 7)
  t.same(time.figures('crm.deal.list'), { operating: 5, operating_reset_at: START / 1000 + 600 })
  t.same(time.figures('user.get'), { operating: 7, operating_reset_at: START / 1000 + 660 }, 'each method its own')
  clock.advance(600_000 - 90_000) // the first minute has left the window
  t.same(time.figures('crm.deal.list'), { operating: 3, operating_reset_at: START / 1000 + 660 })
  clock.advance(60_000)
  t.same(time.figures('crm.deal.list'), { operating: 0, operating_reset_at: START / 1000 + 660 })
})

t.test('over the limit a method alone is refused until a part of its time is released', async (t) => {
  const clock = new ManualClock(START)
  const time = new OperatingTime(() => clock.now(), 10)
  time.spend('crm.deal.list', 6)
  t.equal(time.refusedUntil('crm.deal.list'), null)
  clock.advance(60_000)
  time.spend('crm.deal.list', 4)
  t.equal(time.refusedUntil('crm.deal.list'), START + 600_000)
  t.equal(time.refusedUntil('user.get'), null, 'other methods go on')
  clock.advance(540_000)
  t.equal(time.refusedUntil('crm.deal.list'), null, 'the first minute left the window')
  time.setLimit(4)
  t.equal(time.limitS, 4)
  t.equal(time.refusedUntil('crm.deal.list'), START + 660_000)
})

t.test('a hold refuses a method, or every method, for a window', async (t) => {
  const clock = new ManualClock(START)
  const time = new OperatingTime(() => clock.now())
  time.hold('imbot.v2.Chat.Message.send', 20_000)
  t.equal(time.refusedUntil('imbot.v2.Chat.Message.send'), START + 20_000)
  t.equal(time.refusedUntil('user.get'), null)
  clock.advance(20_000)
  t.equal(time.refusedUntil('imbot.v2.Chat.Message.send'), null, 'over at its end')
  time.hold('*', 5000)
  t.equal(time.refusedUntil('user.get'), START + 25_000)
})
