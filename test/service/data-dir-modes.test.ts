import { chmodSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ensureLocalToken } from '../../src/auth/local-token.ts'
import { ensureKeyFile } from '../../src/seal/key-file.ts'
import { ensureDataDir } from '../../src/store/ensure-data-dir.ts'
import { openDatabase } from '../../src/store/sqlite/open-database.ts'

const modeOf = (path: string) => statSync(path).mode & 0o777

t.test('DATA_DIR is made 0700 and the inbox, its -wal and -shm, the key and the local token 0600, whatever the umask', async (t) => {
  const before = process.umask(0)
  t.teardown(() => void process.umask(before))
  const root = mkdtempSync(join(tmpdir(), 'b24-modes-'))
  const dataDir = join(root, 'nested', 'data')
  await ensureLocalToken(dataDir)
  t.equal(modeOf(dataDir), 0o700, 'the directory, made by whoever comes first')
  const db = openDatabase(dataDir)
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)')
  await ensureKeyFile(dataDir)
  for (const file of ['inbox.db', 'inbox.db-wal', 'inbox.db-shm', 'secret.key', 'local-app-token']) t.equal(modeOf(join(dataDir, file)), 0o600, file)
  db.close()
})

t.test('an inbox an earlier release left 0644 is tightened; a DATA_DIR that exists keeps its mode', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-modes-'))
  chmodSync(dataDir, 0o750)
  const first = openDatabase(dataDir)
  first.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)')
  for (const file of ['inbox.db', 'inbox.db-wal', 'inbox.db-shm']) chmodSync(join(dataDir, file), 0o644)
  const second = openDatabase(dataDir)
  for (const file of ['inbox.db', 'inbox.db-wal', 'inbox.db-shm']) t.equal(modeOf(join(dataDir, file)), 0o600, file)
  t.equal(modeOf(dataDir), 0o750, 'set up by its owner')
  second.close()
  first.close()
})

t.test('DATA_DIR is 0700 even under a umask that takes its owner\'s bits', async (t) => {
  const before = process.umask(0o277)
  t.teardown(() => void process.umask(before))
  const dataDir = join(mkdtempSync(join(tmpdir(), 'b24-modes-')), 'data')
  ensureDataDir(dataDir)
  t.equal(modeOf(dataDir), 0o700)
})
