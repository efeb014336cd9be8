import t from 'tap'
import { createTokenSet } from '../../src/auth/token-set.ts'
import { UnauthorizedError } from '../../src/auth/verify-token.ts'
import type { Arrival } from '../../src/door/arrival.ts'
import { tokenVerifier, type Append } from '../../src/door/verifier.ts'
import { Credentials } from '../../src/event/credentials.ts'
import { MEMBER_ID, TOKEN, webhookArrival } from './arrivals.ts'

const appending = () => {
  const appended: Arrival[] = []
  const append: Append = async (arrival, put) => {
    t.equal(put, undefined, 'into the inbox')
    appended.push(arrival)
  }
  return { appended, append }
}

t.test('the token verifier hands an arrival with an accepted token to the next step, once, as it came', async (t) => {
  const arrival = webhookArrival()
  for (const entry of [TOKEN, `${MEMBER_ID}:${TOKEN}`]) {
    const { appended, append } = appending()
    await tokenVerifier(createTokenSet([entry]))(arrival, append)
    t.same(appended, [arrival], entry === TOKEN ? 'any portal' : 'the portal it is pinned to')
  }
})

t.test('the token verifier refuses a missing or wrong token, or another portal’s, and appends nothing', async (t) => {
  const arrival = webhookArrival()
  const cases: Array<[string, Arrival, string[], string]> = [
    ['a wrong token', arrival, ['another-token'], 'INVALID_TOKEN'],
    ["another portal's pin", arrival, [`other-member:${TOKEN}`], 'INVALID_TOKEN'],
    ['no token', { ...arrival, credentials: new Credentials() }, [TOKEN], 'MISSING_TOKEN'],
  ]
  for (const [why, refused, entries, code] of cases) {
    const { appended, append } = appending()
    await t.rejects(tokenVerifier(createTokenSet(entries))(refused, append), { constructor: UnauthorizedError, code }, why)
    t.same(appended, [])
  }
})
