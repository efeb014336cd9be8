import t from 'tap'
import { openStore, otherConnection } from './sqlite-fixture.ts'

t.test('keeps small named values across restarts (the poller offset)', async (t) => {
  const first = openStore(t)
  t.equal(await first.meta.get('offset'), null)
  await first.meta.set('offset', '10')
  await first.meta.set('offset', '12')
  await first.meta.set('other', 'x')
  t.equal(await first.meta.get('offset'), '12')
  await first.close()
  const second = openStore(t, { dataDir: first.dataDir })
  t.equal(await second.meta.get('offset'), '12')
  t.equal(await second.meta.get('other'), 'x')
})

t.test('a value that cannot be committed rejects', async (t) => {
  const store = openStore(t)
  otherConnection(t, store.dataDir).exec(`CREATE TRIGGER broken_meta BEFORE INSERT ON meta BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;`)
  await t.rejects(store.meta.set('offset', '1'), { name: 'StoreUnavailableError' })
  t.equal(await store.meta.get('offset'), null)
})
