import t from 'tap'
import { receiverSettings } from '../../src/receiver/receiver-settings.ts'
import { loadConfig } from '../../src/service/load-config.ts'
import { APP_TOKEN } from '../helpers.ts'

t.test('B24_SECRET_KEY_PREVIOUS: the old keys, as previousSecretKeys; a bad one named by position, never quoted', async (t) => {
  t.equal(loadConfig({}).receiver.previousSecretKeys, undefined)
  t.equal(loadConfig({ B24_SECRET_KEY_PREVIOUS: '  ' }).receiver.previousSecretKeys, undefined, 'empty: none')
  t.same(loadConfig({ B24_SECRET_KEY: '02'.repeat(32), B24_SECRET_KEY_PREVIOUS: `${'01'.repeat(32)}, ${'03'.repeat(32)}` }).receiver.previousSecretKeys, [Buffer.alloc(32, 1), Buffer.alloc(32, 3)])
  const bad = 'zz'.repeat(32)
  const error = t.throws(() => loadConfig({ B24_SECRET_KEY_PREVIOUS: `${'01'.repeat(32)},${bad}` }), { name: 'ConfigError', message: /^B24_SECRET_KEY_PREVIOUS: key 2 must be 64 hex digits/ }) as Error
  t.notMatch(error.message, bad)
})

t.test('previousSecretKeys: checked at construction, and only beside a new key', async (t) => {
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], previousSecretKeys: ['01'.repeat(32)] }), { name: 'ConfigError', message: /^previousSecretKeys: a key rotation needs the new key in secretKey/ })
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], secretKey: '02'.repeat(32), previousSecretKeys: ['01'.repeat(32), 'short'] }), { name: 'ConfigError', message: /^previousSecretKeys\[1\] must be/ })
  t.ok(receiverSettings({ tokens: [APP_TOKEN], secretKey: '02'.repeat(32), previousSecretKeys: [Buffer.alloc(32, 1)] }))
})
