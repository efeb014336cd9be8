import t from 'tap'
import type { PortalRow } from '../../schemas/portal.ts'
import { installedPortal } from '../../src/event/installed-portal.ts'

const row: PortalRow = {
  memberId: 'a223c6b3710f85df22e9377d6c4f7553',
  domain: 'some-domain.bitrix24.com',
  clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
  status: 'active',
  scope: 'imbot,im',
  version: '3',
  applicationToken: 'f'.repeat(64),
  tokens: 'v1.sealed',
  expiresAt: Date.UTC(2026, 11, 3, 7),
  installedAt: Date.UTC(2026, 11, 1),
  updatedAt: Date.UTC(2026, 11, 3, 6),
}

t.test('shows the facts of a stored portal, times in ISO 8601, never its tokens', async (t) => {
  t.same(installedPortal(row), {
    memberId: row.memberId,
    domain: row.domain,
    clientEndpoint: row.clientEndpoint,
    status: 'active',
    scope: 'imbot,im',
    version: '3',
    expiresAt: '2026-12-03T07:00:00.000Z',
    installedAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-03T06:00:00.000Z',
  })
  t.same(installedPortal({ ...row, expiresAt: null, tokens: null, applicationToken: null, status: 'uninstalled' }).expiresAt, null)
})
