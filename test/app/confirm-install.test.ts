import t from 'tap'
import { confirmInstall } from '../../src/app/confirm-install.ts'
import type { AppInfo } from '../../src/app/oauth-server.ts'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'

const claim = { memberId: 'a223c6b3710f85df22e9377d6c4f7553', domain: 'Some-Domain.bitrix24.com', accessToken: 'access', scope: 'imbot,im' }
const info = (install: Partial<AppInfo['install']> = {}, clientId = 'local.app.1'): AppInfo =>
  ({ clientId, scope: 'imbot', install: { memberId: claim.memberId, domain: 'some-domain.bitrix24.com', clientEndpoint: 'https://some-domain.bitrix24.com/rest/', version: '1', installed: true, ...install } }) as AppInfo
const answering = (answer: AppInfo | Error) => ({ appInfo: async () => (answer instanceof Error ? Promise.reject(answer) : answer) })

t.test('confirms an install of ours on the portal it names, keeping the endpoint the OAuth server gives', async (t) => {
  t.same(await confirmInstall(answering(info()), 'local.app.1', claim, 1000), { clientEndpoint: 'https://some-domain.bitrix24.com/rest/', scope: 'imbot' })
  t.same(await confirmInstall(answering({ ...info(), scope: null }), 'local.app.1', claim, 1000), { clientEndpoint: 'https://some-domain.bitrix24.com/rest/', scope: 'imbot,im' }, 'the install’s scope when the server names none')
})

t.test('refuses what the OAuth server does not vouch for, naming why and never a token', async (t) => {
  const refusals: Array<[string, AppInfo | Error, RegExp]> = [
    ['an unknown token', new BitrixError('app.info', 'invalid_token', 401, ''), /does not know its access token \(invalid_token\)/],
    ['another application', info({}, 'app.other'), /another application/],
    ['another portal', info({ memberId: 'ffff' }), /member_id/],
    ['another domain', info({ domain: 'evil.example.com' }), /domain/],
    ['a client endpoint in clear text off loopback', info({ clientEndpoint: 'http://some-domain.bitrix24.com/rest/' }), /neither https nor/],
  ]
  for (const [why, answer, message] of refusals) {
    await t.rejects(confirmInstall(answering(answer), 'local.app.1', claim, 1000), { name: 'UnauthorizedError', code: 'INSTALL_NOT_CONFIRMED', statusCode: 401, message }, why)
  }
})

t.test('an OAuth server that cannot answer is not a refusal: its error goes to the caller, to try again', async (t) => {
  const timeout = new BitrixError('app.info', 'TIMEOUT', null, 'no answer')
  await t.rejects(confirmInstall(answering(timeout), 'local.app.1', claim, 1000), timeout)
  const odd = new Error('a bug')
  await t.rejects(confirmInstall(answering(odd), 'local.app.1', claim, 1000), odd)
})
