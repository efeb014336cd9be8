import t from 'tap'
import { openStore, otherConnection } from './sqlite-fixture.ts'

t.test('a lease is held by one owner, renewed by it, refused to another until it expires or is given up', async (t) => {
  const store = openStore(t)
  const db = otherConnection(t, store.dataDir)
  const expiry = (name: string) => (db.prepare('SELECT owner, expires_at AS expiresAt FROM leases WHERE name = ?').get(name) as { owner: string; expiresAt: number } | undefined) ?? null
  const before = Date.now()
  t.equal(await store.leases.lease('poll:im', 'replica-a', 60000), true)
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), false, 'refused while held')
  const taken = expiry('poll:im')
  t.ok(taken && taken.owner === 'replica-a' && taken.expiresAt >= before + 60000 && taken.expiresAt <= Date.now() + 60000)
  t.equal(await store.leases.lease('poll:im', 'replica-a', 120000), true, 'renewed by its owner')
  t.ok((expiry('poll:im')?.expiresAt as number) >= before + 120000, 'until later')
  t.equal(await store.leases.lease('poll:other', 'replica-b', 60000), true, 'another name is another lease')

  await store.leases.unlease('poll:im', 'replica-b')
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), false, 'only its owner gives it up')
  await store.leases.unlease('poll:im', 'replica-a')
  t.equal(expiry('poll:im'), null)
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), true, 'taken once given up')

  // An owner that stopped renewing (a killed process): its lease expires.
  t.equal(await store.leases.lease('poll:dead', 'replica-a', 0), true)
  t.equal(await store.leases.lease('poll:dead', 'replica-b', 60000), true, 'taken once expired')
  t.equal(expiry('poll:dead')?.owner, 'replica-b')
})

t.test('a lease held by a process that is gone is taken at once', async (t) => {
  const store = openStore(t)
  // Held for an hour by a process that was killed: no such pid on this host now.
  otherConnection(t, store.dataDir)
    .prepare("INSERT INTO leases (name, owner, pid, expires_at) VALUES ('poll:im', 'killed', ?, ?)")
    .run(2 ** 30, Date.now() + 3600000)
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), true)
  t.equal(await store.leases.lease('poll:im', 'killed', 60000), false, 'and held by its new owner')
})

t.test('a lease held by another live process is refused until it expires', async (t) => {
  const store = openStore(t)
  const db = otherConnection(t, store.dataDir)
  // Another process on this host (the test runner that started this one: alive) holds it.
  db.prepare("INSERT INTO leases (name, owner, pid, expires_at) VALUES ('poll:im', 'other-process', ?, ?)").run(process.ppid, Date.now() + 3600000)
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), false)
  db.prepare("UPDATE leases SET expires_at = 0 WHERE name = 'poll:im'").run()
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), true, 'taken once expired')
})

t.test('a lease left under this pid by an owner this store never had is a run before: taken at once', async (t) => {
  const store = openStore(t)
  // A container restarted in place: the same pid again, the lease of the run before unexpired.
  otherConnection(t, store.dataDir)
    .prepare("INSERT INTO leases (name, owner, pid, expires_at) VALUES ('poll:im', 'run-before', ?, ?)")
    .run(process.pid, Date.now() + 3600000)
  t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), true)
})

t.test('an owner giving up one lease still holds its others', async (t) => {
  const store = openStore(t)
  t.equal(await store.leases.lease('poll:im', 'x', 60000), true)
  t.equal(await store.leases.lease('poll:imbot', 'x', 60000), true)
  await store.leases.unlease('poll:im', 'x')
  t.equal(await store.leases.lease('poll:imbot', 'y', 60000), false)
  t.equal(await store.leases.lease('poll:im', 'y', 60000), true)
})

t.test('a lease that cannot be committed rejects', async (t) => {
  const store = openStore(t)
  otherConnection(t, store.dataDir).exec(`CREATE TRIGGER broken_leases BEFORE INSERT ON leases BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;`)
  await t.rejects(store.leases.lease('poll:im', 'a', 1000), { name: 'StoreUnavailableError' })
  t.equal(await store.leases.holder('poll:im'), null)
})

t.test('names the holder of an unexpired lease; none once it expires, or for a lease never taken', async (t) => {
  const store = openStore(t)
  t.equal(await store.leases.holder('poll:im'), null)
  await store.leases.lease('poll:im', 'replica-a', 60000)
  t.equal(await store.leases.holder('poll:im'), 'replica-a')
  await store.leases.lease('poll:imbot', 'replica-b', 1)
  const expired = Date.now() + 5
  while (Date.now() <= expired) await new Promise((resolve) => setImmediate(resolve))
  t.equal(await store.leases.holder('poll:imbot'), null, 'expired')
})
