import { statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ensureLocalToken, LOCAL_TOKEN_FILE, readLocalToken } from '../../src/auth/local-token.ts'

t.test('makes a random token once and keeps it, readable by its owner only', async (t) => {
  const dir = join(t.testdir(), 'nested', 'data')
  t.equal(await readLocalToken(dir), null)
  const first = await ensureLocalToken(dir)
  t.match(first, { token: /^[0-9a-f]{32}$/, path: join(dir, LOCAL_TOKEN_FILE), created: true })
  t.equal(statSync(first.path).mode & 0o777, 0o600)
  t.same(await ensureLocalToken(dir), { ...first, created: false })
  t.equal(await readLocalToken(dir), first.token)
  t.not((await ensureLocalToken(t.testdir({ other: {} }) + '/other')).token, first.token)
})
