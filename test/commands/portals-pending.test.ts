import t from 'tap'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import { newRecord } from '../fakes/new-record.ts'
import { runCommand } from '../helpers.ts'
import { newCandidate } from '../store/candidates-contract.ts'
import { portalRow } from '../store/store-contract.ts'

// `portals` with installs the OAuth server has not confirmed yet: listed as `pending` after the
// confirmed portals, forgotten with their portal; never a token or its hash.

const ACME = '61fe44d3770c22e3fab7bff06b17e7e3'
const NEW = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'
const SECRETS = ['hash-of-', 'v1.sealed-', 'hash-forged', 'sealed-forged']

t.test('pending installs are listed after the portals, and forgotten with theirs', async (t) => {
  const dataDir = t.testdir()
  const open = () => openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1000 })
  const store = open()
  const bounds = { perPortal: 3, total: 10 }
  await store.portals?.put(portalRow(ACME, { domain: 'acme.bitrix24.com', expiresAt: Date.UTC(2026, 11, 3, 7, 30) }))
  await store.candidates?.add(newCandidate(ACME, { domain: 'acme.bitrix24.com', applicationToken: 'hash-forged', tokens: 'sealed-forged', version: null, expiresAt: null }), newRecord(1, 'forged install'), bounds)
  await store.candidates?.add(newCandidate(NEW, { domain: 'new.bitrix24.com', version: '2', expiresAt: Date.UTC(2026, 11, 4) }), newRecord(2, 'install'), bounds)
  await store.close()
  const env = { DATA_DIR: dataDir }
  const outputs: string[] = []
  const run = async (args: string[]) => {
    const result = await runCommand(['portals', ...args], { env })
    outputs.push(result.out, result.err)
    return result
  }

  t.same(await run(['list']), {
    code: 0,
    out: `${ACME}\tacme.bitrix24.com\tactive\t2026-12-03T07:30:00.000Z\t3\n${ACME}\tacme.bitrix24.com\tpending\t-\t-\n${NEW}\tnew.bitrix24.com\tpending\t2026-12-04T00:00:00.000Z\t2\n`,
    err: '',
  })
  t.strictSame(
    (await run(['list', '--json'])).out.trimEnd().split('\n').map((line) => JSON.parse(line)),
    [
      { memberId: ACME, domain: 'acme.bitrix24.com', status: 'active', expiresAt: '2026-12-03T07:30:00.000Z' },
      { memberId: ACME, domain: 'acme.bitrix24.com', status: 'pending', expiresAt: null },
      { memberId: NEW, domain: 'new.bitrix24.com', status: 'pending', expiresAt: '2026-12-04T00:00:00.000Z' },
    ],
  )
  t.same(await run(['show', NEW]), { code: 1, out: '', err: `b24-receiver portals: no portal ${NEW} is stored\n` }, 'show: stored portals only')
  t.same(await run(['forget', NEW]), { code: 0, out: `forgot ${NEW}\n`, err: '' }, 'a portal with only a pending install')
  t.same(await run(['forget', ACME]), { code: 0, out: `forgot ${ACME}\n`, err: '' })
  t.same(await run(['forget', NEW]), { code: 1, out: '', err: `b24-receiver portals: no portal ${NEW} is stored\n` })
  t.same(await run(['list']), { code: 0, out: 'no portals are stored\n', err: '' })
  const reopened = open()
  t.same(await reopened.candidates?.stats(), { candidates: 0, events: 0 }, 'the pending installs and their events are gone')
  await reopened.close()
  for (const output of outputs) for (const secret of SECRETS) t.notOk(output.includes(secret), secret)
})
