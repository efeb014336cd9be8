import { getEventListeners } from 'node:events'
import t from 'tap'
import { callSignal } from '../src/call-signal.ts'

t.test("aborted with the caller's reason; released, it no longer listens to the caller", async (t) => {
  const caller = new AbortController()
  const call = callSignal(60_000, caller.signal)
  t.equal(getEventListeners(caller.signal, 'abort').length, 1)
  caller.abort(new Error('claim lost'))
  t.equal(call.signal.aborted, true)
  t.match(call.signal.reason, { message: 'claim lost' })
  t.equal(call.timedOut, false)
  call.release()

  const other = new AbortController()
  const released = callSignal(60_000, other.signal)
  released.release()
  t.equal(getEventListeners(other.signal, 'abort').length, 0, 'nothing left on a long-lived signal')
  other.abort()
  t.equal(released.signal.aborted, false)
})

t.test('a caller aborted already: aborted at once', async (t) => {
  const call = callSignal(60_000, AbortSignal.abort(new Error('gone')))
  t.match(call.signal.reason, { message: 'gone' })
  call.release()
})

t.test('past its deadline: aborted as timed out; released first, never', async (t) => {
  const call = callSignal(5)
  // Its timer does not hold the process: this one does meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(call.timedOut, true)
  t.match(call.signal.reason, { name: 'TimeoutError', message: 'no answer within 5 ms' })
  const released = callSignal(5)
  released.release()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(released.signal.aborted, false)
})
