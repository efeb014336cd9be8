import t from 'tap'
import { compose, type Step } from '../../../src/worker/steps/compose.ts'

/** A step that notes its name before and after the rest of the chain. */
const noting =
  (name: string): Step<string[]> =>
  async (notes, next) => {
    notes.push(`${name} before`)
    await next()
    notes.push(`${name} after`)
  }

t.test('runs the steps in order, each around the rest of the chain', async (t) => {
  const notes: string[] = []
  await compose([noting('a'), noting('b'), noting('c')])(notes)
  t.same(notes, ['a before', 'b before', 'c before', 'c after', 'b after', 'a after'])
  await t.resolves(compose<string[]>([])([]), 'no step: nothing to do')
})

t.test('a step that does not call next stops the chain there', async (t) => {
  const notes: string[] = []
  const stop: Step<string[]> = async (notes) => void notes.push('stop')
  await compose([noting('a'), stop, noting('never')])(notes)
  t.same(notes, ['a before', 'stop', 'a after'])
})

t.test('what a step throws ends the chain and reaches the caller', async (t) => {
  const notes: string[] = []
  const fail: Step<string[]> = async () => {
    throw new Error('broken')
  }
  await t.rejects(compose([noting('a'), fail, noting('never')])(notes), { message: 'broken' })
  t.same(notes, ['a before'], 'the steps before it do not go on')
})

t.test('a step that calls next twice is refused: the later steps run once', async (t) => {
  const notes: string[] = []
  const twice: Step<string[]> = async (_notes, next) => {
    await next()
    await next()
  }
  await t.rejects(compose([twice, noting('b')])(notes), { message: 'step 0 called next() twice' })
  t.same(notes, ['b before', 'b after'])
})
