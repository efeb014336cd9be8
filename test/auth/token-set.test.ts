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

t.test('a pin that names a domain binds the member and the domain', async (t) => {
  const tokens = createTokenSet(parseTokenList('m1@Portal.Example.com:beta, m2@box.example:8443:gamma, m3:delta'))
  t.same([...tokens.domains], ['portal.example.com', 'box.example:8443'], 'the pinned domains, as URL hosts')
  t.ok(tokens.accepts('beta', 'm1', 'portal.example.com'))
  t.ok(tokens.accepts('beta', 'm1', 'PORTAL.example.com:443'), 'compared as hosts')
  t.notOk(tokens.accepts('beta', 'm1', 'other.example.com'), 'another domain')
  t.notOk(tokens.accepts('beta', 'm1', null), 'no domain')
  t.notOk(tokens.accepts('beta', 'm1', 'portal.example.com/x'), 'not a host')
  t.notOk(tokens.accepts('beta', 'm9', 'portal.example.com'), 'another member')
  t.ok(tokens.accepts('beta', 'm1'), 'the domain not judged: the door has judged it (application mode admission)')
  t.ok(tokens.accepts('gamma', 'm2', 'box.example:8443'), 'a port is part of the domain')
  t.notOk(tokens.accepts('gamma', 'm2', 'box.example'))
  t.ok(tokens.accepts('delta', 'm3', 'anything.example'), 'a member pin says nothing of the domain')
  t.notOk(tokens.accepts('8443:gamma', 'm2', 'box.example'), 'the port is not read as part of the token')

  const pinned = createTokenSet(['m1@portal.example.com:secret'])
  t.doesNotThrow(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret', member_id: 'm1', domain: 'portal.example.com' } }), pinned))
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret', member_id: 'm1', domain: 'evil.example' } }), pinned), { code: 'INVALID_TOKEN' })
  t.throws(() => verifyToken(webhookCredentials({ auth: { application_token: 'secret', member_id: 'm1' } }), pinned), { code: 'INVALID_TOKEN' })
})

t.test('a pinned domain that is not a host stops the start, without the token', async (t) => {
  t.throws(() => createTokenSet(['ok', 'm1@user@host:s3cr3t']), { name: 'ConfigError', message: 'tokens: entry 2 pins a domain that is not a host name (MEMBER_ID@DOMAIN:TOKEN)' })
  t.throws(() => createTokenSet(['m1@bad host:s3cr3t']), /entry 1/)
})
