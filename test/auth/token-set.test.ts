import t from 'tap'
import { createTokenSet, parseTokenList } from '../../src/auth/token-set.ts'
import { verifyToken } from '../../src/auth/verify-token.ts'
import { webhookCredentials } from '../../src/event/normalize-webhook.ts'

t.test('accepts any of several tokens, pinned ones only from their portal', async (t) => {
  const tokens = createTokenSet(parseTokenList('alpha, member1:beta,member2:gamma'))
  t.equal(tokens.size, 3)
  t.ok(tokens.accepts('alpha', null))
  t.ok(tokens.accepts('alpha', 'anyone'))
  t.ok(tokens.accepts('beta', 'member1'))
  t.notOk(tokens.accepts('beta', 'member2'))
  t.notOk(tokens.accepts('beta', null))
  t.notOk(tokens.accepts('alph', null))
  t.notOk(tokens.accepts('alphaa', null))
  t.notOk(tokens.accepts('', null))
  t.notOk(tokens.accepts(undefined, null))
  t.notOk(createTokenSet([]).accepts('alpha', null), 'an empty set accepts nothing')
})

t.test('reads the token from the top-level auth only', async (t) => {
  const tokens = createTokenSet(['secret'])
  t.doesNotThrow(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret' } }), tokens))
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: 'nope' } }), tokens), { statusCode: 401, code: 'INVALID_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ data: { bot: { auth: { application_token: 'secret' } } } }), tokens), { statusCode: 401, code: 'MISSING_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: ['secret'] } }), tokens), { code: 'MISSING_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ auth: 'secret' }), tokens), { code: 'MISSING_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ auth: null }), tokens), { code: 'MISSING_TOKEN' })
  const pinned = createTokenSet(['m1:secret'])
  t.doesNotThrow(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret', member_id: 'm1' } }), pinned))
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret', member_id: 'm2' } }), pinned), { code: 'INVALID_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret' } }), pinned), { code: 'INVALID_TOKEN' })
})
