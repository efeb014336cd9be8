import { chmodSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../src/errors.ts'
import { ensureKeyFile, KEY_FILE } from '../../src/seal/key-file.ts'

t.test('makes a random key once and keeps it, readable by its owner only', async (t) => {
  const dir = join(t.testdir(), 'nested', 'data')
  const first = await ensureKeyFile(dir)
  t.match(first, { path: join(dir, KEY_FILE), created: true })
  t.equal(first.key.length, 32)
  t.equal(readFileSync(first.path, 'utf8'), first.key.toString('hex') + '\n')
  t.equal(statSync(first.path).mode & 0o777, 0o600)
  t.same(await ensureKeyFile(dir), { ...first, created: false })
  t.not((await ensureKeyFile(t.testdir({ other: {} }) + '/other')).key.toString('hex'), first.key.toString('hex'))
})

t.test('processes starting at once agree on one key', async (t) => {
  const dir = join(t.testdir(), 'fresh')
  const results = await Promise.all(Array.from({ length: 8 }, () => ensureKeyFile(dir)))
  t.equal(results.filter((result) => result.created).length, 1)
  t.equal(new Set(results.map((result) => result.key.toString('hex'))).size, 1)
  t.equal(readFileSync(join(dir, KEY_FILE), 'utf8'), results[0]!.key.toString('hex') + '\n')
})

t.test('reads a key given in the file, in hex or base64, around blanks', async (t) => {
  const key = Buffer.alloc(32, 7)
  t.same((await ensureKeyFile(t.testdir({ [KEY_FILE]: `  ${key.toString('hex').toUpperCase()}\r\n` }))).key, key)
  t.same((await ensureKeyFile(t.testdir({ [KEY_FILE]: key.toString('base64') }))).key, key)
})

t.test('tightens a key file others can read', async (t) => {
  const dir = t.testdir({ [KEY_FILE]: 'ab'.repeat(32) + '\n' })
  const path = join(dir, KEY_FILE)
  chmodSync(path, 0o644)
  t.same(await ensureKeyFile(dir), { key: Buffer.alloc(32, 0xab), path, created: false })
  t.equal(statSync(path).mode & 0o777, 0o600)
  chmodSync(path, 0o400)
  await ensureKeyFile(dir)
  t.equal(statSync(path).mode & 0o777, 0o400, 'a stricter mode is left alone')
})

t.test('a broken key file is a ConfigError naming the file, not its content', async (t) => {
  const content = 'not-a-key-' + 'x'.repeat(40)
  const dir = t.testdir({ [KEY_FILE]: content })
  const path = join(dir, KEY_FILE)
  const error = await ensureKeyFile(dir).then(() => null, (error: unknown) => error)
  t.ok(error instanceof ConfigError)
  t.equal((error as ConfigError).message, `${path} must be 64 hex digits (openssl rand -hex 32) or base64 of exactly 32 bytes (openssl rand -base64 32)`)
  t.notOk((error as ConfigError).message.includes(content))
  t.equal(readFileSync(path, 'utf8'), content, 'the file is left as it was')
})

t.test('waits for a key file its creator has yet to write', async (t) => {
  const dir = t.testdir({ [KEY_FILE]: '' })
  setTimeout(() => writeFileSync(join(dir, KEY_FILE), 'cd'.repeat(32) + '\n'), 60)
  t.same((await ensureKeyFile(dir)).key, Buffer.alloc(32, 0xcd))
})

t.test('gives up on a key file that stays empty', async (t) => {
  const dir = t.testdir({ [KEY_FILE]: '' })
  await t.rejects(ensureKeyFile(dir), { name: 'ConfigError', message: new RegExp(`^${join(dir, KEY_FILE)} must be`) })
})

t.test('passes on what stops it making or reading the file', async (t) => {
  const dir = t.testdir({ file: 'x' })
  await t.rejects(ensureKeyFile(join(dir, 'file')), { code: /^(EEXIST|ENOTDIR)$/ }, 'DATA_DIR is a file')
  const dangling = t.testdir({})
  symlinkSync(join(dangling, 'nowhere'), join(dangling, KEY_FILE))
  await t.rejects(ensureKeyFile(dangling), { code: 'ENOENT' }, 'a dangling link is neither created through nor read')
  const denied = Object.assign(new Error('permission denied'), { code: 'EACCES' })
  const fs = await import('node:fs/promises')
  const { ensureKeyFile: ensure } = await t.mockImport<typeof import('../../src/seal/key-file.ts')>('../../src/seal/key-file.ts', {
    'node:fs/promises': { ...fs, open: async () => Promise.reject(denied) },
  })
  await t.rejects(ensure(t.testdir({})), denied)
})
