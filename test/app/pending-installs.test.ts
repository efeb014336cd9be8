import t from 'tap'
import { pino } from 'pino'
import { PendingInstalls, type Confirmation } from '../../src/app/pending-installs.ts'
import { captureLogs, eventually } from '../helpers.ts'

t.test('tries a pending install until it is settled, one timer per portal, then forgets it', async (t) => {
  const tries: string[] = []
  const answers: Record<string, Confirmation[]> = { a: ['again', 'settled'], b: ['settled'] }
  const pending = new PendingInstalls(async (memberId) => {
    tries.push(memberId)
    return (answers[memberId] as Confirmation[]).shift() as Confirmation
  }, pino({ level: 'silent' }))
  t.teardown(() => pending.stop())
  pending.schedule('a')
  pending.schedule('a')
  pending.schedule('b')
  t.equal(pending.size, 2, 'a second schedule of one portal adds nothing')
  await eventually(() => tries.length === 3 && pending.size === 0, 10000)
  t.same(tries.sort(), ['a', 'a', 'b'])
})

t.test('a confirmation that throws is logged and tried again; stop cancels what waits', async (t) => {
  const logs = captureLogs()
  let calls = 0
  const pending = new PendingInstalls(async () => {
    calls++
    throw new Error('the store is down')
  }, pino(logs.stream))
  pending.schedule('m')
  await eventually(() => calls === 1 && pending.size === 1, 10000)
  t.match(logs.text(), /cannot confirm a pending install now/)
  pending.stop()
  t.equal(pending.size, 0)
  pending.schedule('m')
  t.equal(pending.size, 0, 'nothing is scheduled once stopped')
})
