import { existsSync } from 'node:fs'
import t from 'tap'
import { loadSecretKey } from '../../src/seal/load-secret-key.ts'

t.test('the key given wins; else the one generated under the data directory', async (t) => {
  const dataDir = t.testdir()
  t.same(await loadSecretKey('ab'.repeat(32), dataDir), Buffer.alloc(32, 0xab))
  t.same(await loadSecretKey(Buffer.alloc(32, 3), dataDir), Buffer.alloc(32, 3))
  t.notOk(existsSync(`${dataDir}/secret.key`), 'no file made when a key is given')
  const generated = await loadSecretKey(undefined, dataDir)
  t.equal(generated.length, 32)
  t.same(await loadSecretKey(undefined, dataDir), generated, 'the same key on the next start')
  await t.rejects(loadSecretKey('nope', dataDir), { name: 'ConfigError', message: /^secretKey must be/ })
})
