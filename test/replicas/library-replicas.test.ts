import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { installWithoutCompiling } from '../install/install-without-compiling.ts'
import { packedLibrary } from '../install/packed-library.ts'
import { userEnv, watchChild, type WatchedChild } from '../serve-child.ts'
import { APP_TOKEN, SECRET_KEY } from '../helpers.ts'
import { sql, testDatabase } from '../store/postgres/postgres-fixture.ts'
import { checkHandled, messageBody, messageText, waitForHandled, type Post } from './replica-fixture.ts'

// README "Replicas from your own app", as a user runs it: the packed library installed outside
// this repository, the README's snippet as the user's app, two of them on one fresh database.
// The packing and the install (scripts off) take most of its time.
t.setTimeout(120_000)

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const snippet = /### Replicas from your own app[\s\S]*?```js\n([\s\S]*?)```/.exec(README)?.[1] ?? ''

// The test's only additions to the snippet: where it reads what was handled (one line per event,
// once across both apps), a handler that takes a while as real ones do (so that events are still
// pending at the kill), and claims short enough that the killed app's event is taken over in two
// seconds rather than ten.
const program = snippet
  .replace('logger: app.log,', 'logger: app.log, eventsFile: process.env.EVENTS_FILE,')
  .replace("app.log.info({ chat", "await new Promise((resolve) => setTimeout(resolve, 50))\n  app.log.info({ chat")
  .replace('postgresStore({ connectionString: process.env.DATABASE_URL })', 'postgresStore({ connectionString: process.env.DATABASE_URL, claimTimeoutMs: 2000 })')

const work = mkdtempSync(join(tmpdir(), 'b24-receiver-replicas-'))
t.teardown(() => (t.passing() ? rmSync(work, { recursive: true, force: true }) : t.comment(`kept for a look: ${work}`)))

t.test("two copies of the README's app on one database: one killed with events pending, every acknowledged event handled once", async (t) => {
  t.equal(program.split('\n').length, snippet.split('\n').length + 1, 'the snippet has the lines the test adds to')
  for (const added of ['eventsFile', 'claimTimeoutMs', 'setTimeout']) t.match(program, added)
  const started = Date.now()
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'replicas-test-app', private: true, type: 'module' }))
  writeFileSync(join(app, 'app.mjs'), program)
  await installWithoutCompiling(app, [await packedLibrary(work), 'fastify@^5'])
  t.comment(`packed and installed in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const databaseUrl = await testDatabase(t)
  const eventsFile = join(work, 'events.jsonl')
  const env = userEnv({ DATABASE_URL: databaseUrl, B24_SECRET_KEY: SECRET_KEY, B24_APP_TOKENS: APP_TOKEN, PORT: '0', EVENTS_FILE: eventsFile })
  const startApp = async (): Promise<WatchedChild & { url: string }> => {
    const child = watchChild(spawn(process.execPath, ['app.mjs'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] }), "the README's app")
    t.teardown(() => void child.child.kill('SIGKILL'))
    const [, url] = await child.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 20_000)
    return { ...child, url: url as string }
  }
  const [a, b] = await Promise.all([startApp(), startApp()])

  const posts: Post[] = []
  const post = async (url: string, chat: number, seq: number) => {
    const sentAt = performance.now()
    const response = await fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: messageBody(chat, seq) })
    await response.arrayBuffer()
    posts.push({ chat, seq, text: messageText(chat, seq), status: response.status, sentAt, answeredAt: performance.now() })
  }
  // Each chat posted in order, to both apps in turn; both work the inbox, a chat's events one at a
  // time across them, so most of a chat's burst is still pending when one app is killed.
  const chat = async (chat: number, count: number, urls: string[]) => {
    for (let seq = 0; seq < count; seq++) await post(urls[seq % urls.length] as string, chat, seq)
  }
  await Promise.all([chat(1, 20, [a.url, b.url]), chat(2, 20, [b.url, a.url])])
  a.child.kill('SIGKILL')
  t.equal(await a.exited, null, 'killed')
  const [{ pending }] = (await sql<{ pending: string }>(databaseUrl, "SELECT count(*) AS pending FROM b24_inbox WHERE status = 'pending'")) as [{ pending: string }]
  t.ok(Number(pending) > 0, `${pending} events pending when one app was killed`)
  await chat(3, 5, [b.url])

  t.same(posts.filter((sent) => sent.status !== 200), [], 'every post acknowledged')
  checkHandled(t, posts, await waitForHandled(eventsFile, posts))
  t.comment(`${((Date.now() - started) / 1000).toFixed(1)} s in all`)
})
