import t from 'tap'
import { ConfigError } from '../../src/errors.ts'
import { loadConfig } from '../../src/service/load-config.ts'
import { checkReplicaConfig } from '../../src/service/check-replica-config.ts'

const DATABASE_URL = 'postgres://b24:hunter2@127.0.0.1:1/none'
const KEY = 'ab'.repeat(32)
const APP = { B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'cl13nt-s3cr3t' }
const check = (env: Record<string, string>) => () => checkReplicaConfig(loadConfig(env))

t.test('one instance (no DATABASE_URL) may make up its own token and key', async (t) => {
  t.doesNotThrow(check({}))
})

t.test('replicas need B24_APP_TOKENS and B24_SECRET_KEY: a local token or key would differ per replica', async (t) => {
  t.throws(check({ DATABASE_URL, B24_SECRET_KEY: KEY }), {
    name: 'ConfigError',
    message: 'DATABASE_URL needs B24_APP_TOKENS (or application mode: B24_CLIENT_ID and B24_CLIENT_SECRET): replicas must accept the same tokens, and a generated local token would differ per replica',
  })
  t.throws(check({ DATABASE_URL, B24_APP_TOKENS: 'tok' }), new ConfigError('DATABASE_URL needs B24_SECRET_KEY, the same on every replica: it seals the credentials they share (openssl rand -hex 32)'))
  t.doesNotThrow(check({ DATABASE_URL, B24_APP_TOKENS: 'tok', B24_SECRET_KEY: KEY }))
})

t.test('in application mode the portals\' tokens are in the shared store: B24_APP_TOKENS may be empty, B24_SECRET_KEY is still needed', async (t) => {
  t.doesNotThrow(check({ DATABASE_URL, B24_SECRET_KEY: KEY, ...APP }))
  t.doesNotThrow(check({ DATABASE_URL, B24_SECRET_KEY: KEY, B24_APP_TOKENS: 'tok', ...APP }))
  t.throws(check({ DATABASE_URL, ...APP }), { name: 'ConfigError', message: /^DATABASE_URL needs B24_SECRET_KEY/ })
})
