import t from 'tap'
import { labelledCache, OTHER_LABEL } from '../../src/metrics/labelled-cache.ts'

t.test('makes a child once per value; past the limit every new value shares "other"', async (t) => {
  const made: string[] = []
  const child = labelledCache((label) => {
    made.push(label)
    return { label }
  }, 2)
  const a = child('A')
  t.equal(child('A'), a, 'the same child again')
  t.same(child('B'), { label: 'B' })
  t.same(child('C'), { label: OTHER_LABEL })
  t.equal(child('D'), child('C'), 'one "other" child for all')
  t.equal(child('B'), child('B'), 'the values under the limit keep theirs')
  t.same(made, ['A', 'B', 'other'])
})
