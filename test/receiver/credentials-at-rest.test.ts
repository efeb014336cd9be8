import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { APP_TOKEN, bitrixCases, eventually, readFixture, startTestApp } from '../helpers.ts'

const SECRET_FIELDS = /"(?:access_token|refresh_token|application_token)":\s*"([^"]+)"/g

// Every real body, with our token, under a new message id each time so that none is a double
// delivery; some pending, some handled, some dead-lettered when the run ends.
function corpus(): { bodies: string[]; secrets: Set<string> } {
  const secrets = new Set<string>([APP_TOKEN])
  const bodies: string[] = []
  for (const name of bitrixCases()) {
    const text = readFixture(`bitrix/${name}.payload.json`)
    for (const [, secret] of text.matchAll(SECRET_FIELDS)) secrets.add(secret as string)
    for (let i = 0; i < 3; i++) {
      const payload = JSON.parse(text) as { auth: Record<string, string>; ts: string }
      payload.auth.application_token = APP_TOKEN
      payload.ts = String(Number(payload.ts) + i)
      bodies.push(encodeForm(payload as unknown as PhpValue))
    }
  }
  return { bodies, secrets }
}

// Every file under the directory, as bytes read as text: what anyone with the disk could grep.
const filesUnder = (dir: string): Array<[string, string]> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => [entry.name, readFileSync(join(entry.parentPath, entry.name)).toString('latin1')])

t.test('after a run, no token string is readable in any file under DATA_DIR', async (t) => {
  const dataDir = t.testdir()
  const { bodies, secrets } = corpus()
  t.ok(secrets.size > 10, 'the corpus carries many tokens')
  const server = await startTestApp({ dataDir })
  let calls = 0
  // Every third event fails for good: the dead letter keeps its wire and sealed credentials.
  server.receiver.onAny(() => {
    if (++calls % 3 === 0) throw new Error('down')
  })
  for (const body of bodies) t.equal((await server.post(body)).status, 200)
  await eventually(async () => (await server.receiver.health()).inbox?.depth === 0, 20000)
  t.ok(((await server.receiver.health()).inbox?.deadLetters ?? 0) > 0, 'some in the dead letter')
  // A second run keeps some pending at the end.
  t.equal((await server.post(bodies[0] as string)).status, 200)
  await server.close()
  const files = filesUnder(dataDir)
  t.ok(files.some(([name]) => name === 'inbox.db'))
  for (const [name, content] of files) {
    for (const secret of secrets) t.notOk(content.includes(secret), `${secret.slice(0, 6)}… not in ${name}`)
  }
})
