import t from 'tap'
import { openTokens, sealTokens } from '../../src/app/token-pair.ts'
import { createSealer } from '../../src/seal/sealer.ts'

t.test('a pair is sealed together and opens as it was; the sealed text holds neither token', async (t) => {
  const sealer = createSealer(Buffer.alloc(32, 3))
  const pair = { accessToken: 'access-7f3a', refreshToken: 'refresh-91bc' }
  const sealed = sealTokens({ ...pair, extra: 'not kept' } as typeof pair, sealer)
  t.notMatch(sealed, /access-7f3a|refresh-91bc/)
  t.same(openTokens(sealed, sealer), pair, 'only the two tokens are kept')
  t.throws(() => openTokens(sealed, createSealer(Buffer.alloc(32, 4))), { name: 'SealError' }, 'another key cannot open it')
})
