import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { PortalRow } from '../../schemas/portal.ts'
import { storedPortals } from '../../src/commands/portals.ts'
import { openPostgresStore } from '../../src/store/postgres/open-postgres-store.ts'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import type { Store } from '../../src/store/store.ts'
import { runCommand } from '../helpers.ts'
import { testDatabase } from '../store/postgres/postgres-fixture.ts'

// What the store keeps of a portal's secrets: none of it may ever be printed.
const HASH = 'apptokenhash5f1e0b7c9d2a4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708'
const SEALED = 'sealedtokens.v1.9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b'
const SECRETS = [HASH, SEALED, 'apptokenhash', 'sealedtokens']

const ACME = '61fe44d3770c22e3fab7bff06b17e7e3'
const GONE = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'

const portalRow = (memberId: string, fields: Partial<PortalRow> = {}): PortalRow => ({
  memberId,
  domain: 'acme.bitrix24.com',
  clientEndpoint: 'https://acme.bitrix24.com/rest/',
  status: 'active',
  scope: 'imbot,im',
  version: '3',
  applicationToken: HASH,
  tokens: SEALED,
  expiresAt: Date.UTC(2026, 11, 3, 7, 30),
  installedAt: Date.UTC(2026, 10, 1, 9),
  updatedAt: Date.UTC(2026, 11, 3, 6, 30),
  ...fields,
})

const rows = [
  portalRow(ACME),
  // Uninstalled: its tokens and hash gone, as ONAPPUNINSTALL leaves it.
  portalRow(GONE, { domain: 'gone.bitrix24.de', clientEndpoint: 'https://gone.bitrix24.de/rest/', status: 'uninstalled', scope: null, version: null, applicationToken: null, tokens: null, expiresAt: null }),
]

async function storeRows(store: Store, given: PortalRow[]): Promise<void> {
  for (const row of given) await store.portals?.put(row)
  await store.close()
}

const sqliteDir = async (t: Test, given: PortalRow[]) => {
  const dataDir = t.testdir()
  await storeRows(openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1000 }), given)
  return dataDir
}

const portals = (args: string[], env: Record<string, string>) => runCommand(['portals', ...args], { env })

t.test('lists, shows and forgets the stored portals, never printing a token or its hash', async (t) => {
  const env = { DATA_DIR: await sqliteDir(t, rows) }
  const outputs: string[] = []
  const run = async (args: string[]) => {
    const result = await portals(args, env)
    outputs.push(result.out, result.err)
    return result
  }

  t.same(await run(['list']), {
    code: 0,
    out: `${GONE}\tgone.bitrix24.de\tuninstalled\t-\t-\n${ACME}\tacme.bitrix24.com\tactive\t2026-12-03T07:30:00.000Z\t3\n`,
    err: '',
  })
  const json = await run(['list', '--json'])
  t.equal(json.code, 0)
  t.strictSame(
    json.out.trimEnd().split('\n').map((line) => JSON.parse(line)),
    [
      { memberId: GONE, domain: 'gone.bitrix24.de', status: 'uninstalled', expiresAt: null },
      { memberId: ACME, domain: 'acme.bitrix24.com', status: 'active', expiresAt: '2026-12-03T07:30:00.000Z' },
    ],
    'one object per line, exactly memberId, domain, status, expiresAt',
  )

  const shown = await run(['show', ACME])
  t.equal(shown.code, 0)
  t.ok(shown.out.includes('\n  "domain"'), 'pretty JSON')
  t.strictSame(JSON.parse(shown.out), {
    memberId: ACME,
    domain: 'acme.bitrix24.com',
    clientEndpoint: 'https://acme.bitrix24.com/rest/',
    status: 'active',
    scope: 'imbot,im',
    version: '3',
    expiresAt: '2026-12-03T07:30:00.000Z',
    installedAt: '2026-11-01T09:00:00.000Z',
    updatedAt: '2026-12-03T06:30:00.000Z',
  })
  t.match(JSON.parse((await run(['show', GONE])).out), { status: 'uninstalled', expiresAt: null, version: null, scope: null })

  t.same(await run(['forget', ACME]), { code: 0, out: `forgot ${ACME}\n`, err: '' })
  t.same(await run(['list', '--json']), { code: 0, out: `{"memberId":"${GONE}","domain":"gone.bitrix24.de","status":"uninstalled","expiresAt":null}\n`, err: '' })
  t.same(await run(['forget', ACME]), { code: 1, out: '', err: `b24-receiver portals: no portal ${ACME} is stored\n` })
  t.same(await run(['show', ACME]), { code: 1, out: '', err: `b24-receiver portals: no portal ${ACME} is stored\n` })

  const store = openSqliteStore({ dataDir: env.DATA_DIR, durability: 'process', dedupWindowMs: 1000 })
  t.equal(await store.portals?.get(ACME), null, 'its row and tokens are gone from the store')
  await store.close()
  for (const output of outputs) for (const secret of SECRETS) t.notOk(output.includes(secret), secret)
})

t.test('says so when no portal is stored, and prints nothing as JSON', async (t) => {
  const env = { DATA_DIR: await sqliteDir(t, []) }
  t.same(await portals(['list'], env), { code: 0, out: 'no portals are stored\n', err: '' })
  t.same(await portals(['list', '--json'], env), { code: 0, out: '', err: '' })
})

t.test('says how to use it, never echoing what it was given', async (t) => {
  const env = { DATA_DIR: t.testdir() }
  const usage = /^b24-receiver portals: usage: b24-receiver portals list \[--json\] \| show MEMBER_ID \| forget MEMBER_ID\n$/
  for (const args of [[], ['drop', ACME], ['list', '--xml'], ['list', '--json', 'x'], ['forget', ACME, 'again']]) {
    t.match(await portals(args, env), { code: 1, out: '', err: usage }, args.join(' '))
  }
  for (const args of [['show'], ['forget'], ['show', 'c76f868e 0000'], ['forget', 'x'.repeat(101)], ['show', 'bad/../id'], ['show', '']]) {
    const result = await portals(args, env)
    t.match(result, { code: 1, out: '', err: /^b24-receiver portals: give a portal's member id, 1-100 letters, digits, '_', '\.' or '-' \(usage: [^\n]+\)\n$/ }, args.join(' '))
    if (args[1]) t.notOk(result.err.includes(args[1]), 'the input is not echoed')
  }
  t.match(await portals(['show', 'a'.repeat(100)], env), { code: 1, err: /no portal a{100} is stored/ }, '100 characters is a member id')
  t.match(await portals(['list'], { DATA_DIR: t.testdir({ f: 'x' }) + '/f' }), { code: 1, err: /^b24-receiver portals: cannot open the inbox in DATA_DIR/ })
  t.match(await portals(['list'], { B24_CLIENT_ID: 'app.1' }), { code: 1, err: /^b24-receiver portals: application mode needs both B24_CLIENT_ID and B24_CLIENT_SECRET/ })
})

t.test('DATABASE_URL: the portals of the shared store, and nothing under DATA_DIR', async (t) => {
  const databaseUrl = await testDatabase(t)
  await storeRows(openPostgresStore({ connectionString: databaseUrl }, 'replica-a'), rows)
  const env = { DATA_DIR: join(t.testdir(), 'data'), DATABASE_URL: databaseUrl }
  const listed = await portals(['list'], env)
  t.same(listed, { code: 0, out: `${GONE}\tgone.bitrix24.de\tuninstalled\t-\t-\n${ACME}\tacme.bitrix24.com\tactive\t2026-12-03T07:30:00.000Z\t3\n`, err: '' })
  const shown = await portals(['show', ACME], env)
  t.match(JSON.parse(shown.out), { memberId: ACME, clientEndpoint: 'https://acme.bitrix24.com/rest/', installedAt: '2026-11-01T09:00:00.000Z' })
  t.same(await portals(['forget', ACME], env), { code: 0, out: `forgot ${ACME}\n`, err: '' })
  t.same(await portals(['list', '--json'], env), { code: 0, out: `{"memberId":"${GONE}","domain":"gone.bitrix24.de","status":"uninstalled","expiresAt":null}\n`, err: '' })
  for (const output of [listed.out, shown.out]) for (const secret of SECRETS) t.notOk(output.includes(secret), secret)
  t.notOk(existsSync(env.DATA_DIR), 'no embedded store made')
})

t.test("a store of one's own without portals is a clear error", async (t) => {
  t.throws(() => storedPortals({ portals: undefined } as unknown as Store), {
    code: 'NO_PORTALS',
    message: 'this store keeps no portals: application mode needs a store with `portals` (both built-in stores have them)',
  })
})
