import t from 'tap'
import { unknownSettings } from '../../src/service/unknown-settings.ts'

t.test('names a misspelled or unknown B24_ variable, with the setting it likely means', async (t) => {
  t.same(unknownSettings({ B24_APP_TOKEN: 'x', B24_SECRETKEY: 'x', B24_SOMETHING_ELSE_ENTIRELY: 'x' }), [
    { name: 'B24_APP_TOKEN', likely: 'B24_APP_TOKENS' },
    { name: 'B24_SECRETKEY', likely: 'B24_SECRET_KEY' },
    { name: 'B24_SOMETHING_ELSE_ENTIRELY', likely: null },
  ])
})

t.test('names any variable one typo from a setting: a letter added, dropped, replaced or swapped', async (t) => {
  t.same(unknownSettings({ PORTT: '1', LOG_LEVL: 'x', DATA_DRI: 'x', HOTS: 'x' }), [
    { name: 'DATA_DRI', likely: 'DATA_DIR' },
    { name: 'HOTS', likely: 'HOST' },
    { name: 'LOG_LEVL', likely: 'LOG_LEVEL' },
    { name: 'PORTT', likely: 'PORT' },
  ])
})

t.test("leaves its own settings, the test suite's B24_TEST_ variables and everyone else's environment alone", async (t) => {
  t.same(unknownSettings({ PORT: '1', LOG_LEVEL: 'info', B24_APP_TOKENS: 'x', B24_TEST_DATABASE_URL: 'x', HOME: '/root', PATH: '/bin', PWD: '/', SHELL: 'sh', USER: 'u', TERM: 'x' }), [])
})
