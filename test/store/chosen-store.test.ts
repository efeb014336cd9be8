import { pino } from 'pino'
import t from 'tap'
import { ConfigError } from '../../src/errors.ts'
import { chosenStore } from '../../src/store/chosen-store.ts'
import { postgresStore } from '../../src/store/postgres/postgres-store.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const silent = { replica: 'replica-a', logger: pino({ level: 'silent' }) }

t.test('by default the embedded store under ./data, or under the dataDir given', async (t) => {
  t.match(chosenStore({}), { kind: 'sqlite', keyDir: './data' })
  t.match(chosenStore({ dataDir: '/srv/b24' }), { kind: 'sqlite', keyDir: '/srv/b24' })
})

t.test('a factory is opened as it is', async (t) => {
  const factory = postgresStore({ connectionString: 'postgres://127.0.0.1:1/none' })
  t.equal(chosenStore({ store: factory }), factory)
})

t.test('a store of your own is taken as it is: no key file beside it', async (t) => {
  const store = new MemoryStore()
  const factory = chosenStore({ store })
  t.match(factory, { kind: 'own', keyDir: null })
  t.equal(factory.open(silent), store)
})

t.test('store and dataDir both: refused, which one holds the events would be a guess', async (t) => {
  t.throws(() => chosenStore({ store: new MemoryStore(), dataDir: './data' }), new ConfigError('dataDir: give it to the store instead (store: sqliteStore({ dataDir })), or leave store out'))
})
