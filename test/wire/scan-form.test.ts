import t from 'tap'
import fc from 'fast-check'
import { parseForm, type FormMap, type FormValue } from '../../src/wire/parse-form.ts'
import { scanForm } from '../../src/wire/scan-form.ts'
import { isSecretKey } from '../../src/wire/is-secret-key.ts'
import { bitrixCases, readFixture } from '../helpers.ts'

const UNBOUNDED = { maxPairs: Infinity, maxDepth: Infinity, maxKeyLength: Infinity }
const child = (value: FormValue | undefined, key: string) => (typeof value === 'object' ? value[key] : undefined)

// What the door reads, taken from the full parse: the oracle the scan must agree with.
const fieldsOf = (form: FormMap) => ({
  event: form.event,
  auth: form.auth,
  botAuth: child(child(form.data, 'bot'), 'auth'),
  chatId: child(child(form.data, 'chat'), 'id'),
  dialogId: child(form.data, 'dialogId'),
})

function agrees(body: string) {
  return { scanned: fieldsOf(scanForm(body).head), parsed: fieldsOf(parseForm(body, UNBOUNDED)) }
}

// Whether any credential is left in a parsed form: a token key anywhere.
function credentialsIn(form: FormValue | undefined): boolean {
  return typeof form === 'object' && Object.keys(form).some((key) => isSecretKey(key) || credentialsIn(form[key]))
}

t.test("reading a key without limits does not lift the full parser's", async (t) => {
  const deep = `a${'[x]'.repeat(65)}=1`
  t.same(scanForm(deep).stripped, deep)
  t.throws(() => parseForm(deep), /nests deeper than 64 levels/)
})

t.test('reads event, auth and data[bot][auth] exactly as the full parser does, on every real body', async (t) => {
  for (const name of bitrixCases()) {
    const body = readFixture(`bitrix/${name}.body.txt`)
    const { scanned, parsed } = agrees(body)
    t.same(scanned, parsed, name)
    t.type(scanned.event, 'string', name)
    t.notOk(credentialsIn(parseForm(scanForm(body).stripped, UNBOUNDED)), `${name}: no credential left`)
  }
})

t.test('agrees where later pairs reshape what earlier ones built', async (t) => {
  const cases = [
    'data[chat][id]=1&data[chat]=x',
    'data[chat]=x&data[chat][id]=2',
    'data[chat][id]=1&data=x&data[dialogId]=chat5',
    'data[dialogId]=a&data[dialogId][x]=b',
    'data[chat][id][]=1',
    'access_token=t&x[refresh_token]=r&data[bot][x][auth]=1',
    'data[bot][auth][application_token]=t&data[bot]=x',
    'data[bot][auth][application_token]=t&data=x',
    'data=x&data[bot][auth][access_token]=a',
    'auth[application_token]=t&auth=x',
    'auth=x&auth[application_token]=t',
    'auth[application_token]=t&auth[application_token][0]=u',
    'event=A&event=B',
    '%61uth%5Bapplication_token%5D=t& auth[member_id]=m',
    'auth[]=t&auth[]=u',
  ]
  for (const body of cases) {
    const { scanned, parsed } = agrees(body)
    t.same(scanned, parsed, body)
  }
})

t.test('agrees with the full parser on the PHP oracle corpus', async (t) => {
  const corpus = JSON.parse(readFixture('php/parse-str.json')) as Array<{ body: string }>
  for (const { body } of corpus) {
    const { scanned, parsed } = agrees(body)
    t.same(scanned, parsed, body)
  }
})

// Keys built from the names that matter, in every spelling the parser reads alike.
const base = fc.constantFrom('auth', 'event', 'data', 'data', 'AUTH', 'x', 'access_token')
const segment = fc.constantFrom('bot', 'bot', 'auth', 'auth', 'application_token', 'access_token', 'member_id', 'chat', 'id', 'dialogId', 'x', '0', '', ' ')
const bracket = fc.constantFrom(['[', ']'], ['%5B', '%5D'], ['%5b', '%5d'], ['[', ''])
const spelled = fc.constantFrom((name: string) => name, (name: string) => name.replace(/^a/, '%61').replace(/^d/, '%64').replace(/^e/, '%65'), (name: string) => ` ${name}`)
const key = fc.tuple(base, fc.array(fc.tuple(segment, bracket), { maxLength: 4 }), spelled).map(([base, rest, spell]) => spell(base) + rest.map(([name, [open, close]]) => open + name + close).join(''))
const value = fc.oneof(fc.string({ unit: 'grapheme' }).map(encodeURIComponent), fc.constantFrom('', 'tok', '%ZZ', '+'))
const pair = fc.oneof(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), key)
const body = fc.array(pair, { maxLength: 12 }).map((pairs) => pairs.join('&'))
const garbage = fc.string({ unit: fc.constantFrom('[', ']', '%', '&', '=', '+', '.', ' ', 'a', 'u', 't', 'h', '%5B', '%5D', 'data', 'bot', 'event', 'chat', 'id', 'dialogId') })

t.test('agrees with the full parser on random and garbage bodies, and strips every credential', async (t) => {
  fc.assert(
    fc.property(fc.oneof(body, garbage), (text) => {
      const { scanned, parsed } = agrees(text)
      t.same(scanned, parsed)
      return !credentialsIn(parseForm(scanForm(text).stripped, UNBOUNDED))
    }),
    { seed: 20261202, numRuns: 3000 },
  )
})

t.test('has no limit: a hostile body is read whole (bench/ measures the time)', async (t) => {
  const deep = `auth%5Bapplication_token%5D=t&a${'[x]'.repeat(20000)}=1`
  const wide = `auth%5Bapplication_token%5D=t&${Array.from({ length: 200000 }, (_, i) => `p${i}=1`).join('&')}`
  for (const hostile of [deep, wide]) {
    const { head, stripped } = scanForm(hostile)
    t.same(head.auth, { application_token: 't' })
    t.equal(stripped, hostile.slice(hostile.indexOf('&') + 1))
  }
})
