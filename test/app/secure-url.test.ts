import t from 'tap'
import { isSecureUrl } from '../../src/app/secure-url.ts'

t.test('https anywhere is secure', async (t) => {
  for (const url of ['https://oauth.bitrix.info', 'https://oauth.bitrix24.tech/', 'https://portal.bitrix24.com/rest/', 'https://10.0.0.5:8443/oauth/', 'HTTPS://Example.COM']) t.ok(isSecureUrl(url), url)
})

t.test('plain http only on a loopback address', async (t) => {
  for (const url of ['http://localhost:8080/', 'http://LOCALHOST', 'http://127.0.0.1:3000', 'http://127.8.9.10/', 'http://127.1/', 'http://[::1]:9000/', 'http://[0:0:0:0:0:0:0:1]/']) {
    t.ok(isSecureUrl(url), url)
  }
  for (const url of ['http://oauth.bitrix.info', 'http://10.0.0.1/', 'http://128.0.0.1/', 'http://127.0.0.1.nip.io/', 'http://localhost.example.com/', 'http://[::2]/', 'http://0.0.0.0/']) {
    t.notOk(isSecureUrl(url), url)
  }
})

t.test('credentials in the URL, other schemes and what does not parse are not', async (t) => {
  for (const url of ['https://user:pass@oauth.bitrix.info', 'https://user@oauth.bitrix.info', 'https://:pass@oauth.bitrix.info', 'http://u:p@127.0.0.1/', 'ftp://oauth.bitrix.info', 'ws://localhost/', 'file:///etc/passwd', 'oauth.bitrix.info', '', 'https://']) {
    t.notOk(isSecureUrl(url), url)
  }
})
