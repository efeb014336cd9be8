import t from 'tap'
import { justWait, Waits, type Wait } from '../src/wait.ts'

t.test('Waits tells its listeners as the first wait begins and the last ends, and passes each through the outer wait', async (t) => {
  const outer: string[] = []
  const through: Wait = async (waiting) => {
    outer.push('outer')
    return waiting
  }
  const waits = new Waits(through)
  const told: boolean[] = []
  const stop = waits.onChange((waiting) => told.push(waiting))
  t.equal(waits.waiting, false)
  let open!: () => void
  const first = waits.wait(new Promise<void>((resolve) => (open = resolve)))
  t.equal(waits.waiting, true)
  t.equal(await waits.wait(Promise.resolve(7)), 7, 'a second one, nested: its value')
  await t.rejects(waits.wait(Promise.reject(new Error('no room'))), { message: 'no room' }, 'a wait that fails rejects as it')
  t.same(told, [true], 'told once, though three overlapped')
  open()
  await first
  t.same(told, [true, false])
  t.same(outer, ['outer', 'outer', 'outer'])
  stop()
  await waits.wait(Promise.resolve())
  t.same(told, [true, false], 'no longer told once stopped')
})

t.test('justWait waits and tells no one; Waits without an outer wait uses it', async (t) => {
  t.equal(await justWait(Promise.resolve('x')), 'x')
  t.equal(await new Waits().wait(Promise.resolve(1)), 1)
})
