import t from 'tap'
import { describeTarget, oauthTarget, webhookTarget } from '../../src/bitrix/rest-target.ts'
import { ConfigError } from '../../src/errors.ts'

t.test('reads an inbound webhook URL, with or without its trailing slash', async (t) => {
  const expected = { kind: 'webhook', baseUrl: 'https://p.bitrix24.com/rest/1/s3cr3t/', domain: 'p.bitrix24.com', userId: 1 }
  t.same(webhookTarget('https://p.bitrix24.com/rest/1/s3cr3t/'), expected)
  t.same(webhookTarget('https://p.bitrix24.com/rest/1/s3cr3t'), expected)
  t.equal(describeTarget(expected as never), 'webhook p.bitrix24.com')
  t.match(webhookTarget('http://127.0.0.1:8080/b24/rest/12/s3cr3t/'), { baseUrl: 'http://127.0.0.1:8080/b24/rest/12/s3cr3t/', domain: '127.0.0.1', userId: 12 }, 'behind a path prefix')
})

t.test('refuses what is not an inbound webhook URL, without repeating the secret', async (t) => {
  for (const url of ['not a url', 'ftp://p/rest/1/s3cr3t/', 'https://p/rest/s3cr3t/', 'https://p/rest/1/s3cr3t/im.v2.Event.get', 'https://p/rest/1/s3cr3t/?x=1', 'https://u:s3cr3t@p/rest/1/x/']) {
    t.throws(() => webhookTarget(url), ConfigError, url)
    try {
      webhookTarget(url)
    } catch (error) {
      t.notMatch((error as Error).message, 's3cr3t')
      t.match((error as Error).message, /B24_REST_URL/)
    }
  }
})

t.test('reads an OAuth target from an auth block, or nothing', async (t) => {
  t.same(oauthTarget({ client_endpoint: 'https://p.bitrix24.com/rest/', access_token: 'tok' }), { kind: 'oauth', baseUrl: 'https://p.bitrix24.com/rest/', domain: 'p.bitrix24.com', accessToken: 'tok' })
  t.equal(oauthTarget({ client_endpoint: 'https://p.bitrix24.com/rest', access_token: 'tok' })?.baseUrl, 'https://p.bitrix24.com/rest/')
  t.equal(oauthTarget(undefined), null)
  t.equal(oauthTarget({ client_endpoint: 'https://p.bitrix24.com/rest/' }), null, 'no token')
  t.equal(oauthTarget({ access_token: 'tok' }), null, 'no endpoint')
  t.equal(oauthTarget({ client_endpoint: 'not a url', access_token: 'tok' }), null)
  t.equal(oauthTarget({ client_endpoint: 'file:///etc/', access_token: 'tok' }), null)
})
