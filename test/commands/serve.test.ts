import { connect } from 'node:net'
import t from 'tap'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { eventually } from '../helpers.ts'
import { serveChild } from '../serve-child.ts'

t.test('npx b24-receiver serve: a request in flight when SIGTERM arrives completes, then it exits 0', async (t) => {
  const dataDir = t.testdir()
  const { child, url, exited, output } = await serveChild({ PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: 'tok', LOG_LEVEL: 'info' })
  t.teardown(() => void child.kill('SIGKILL'))
  const { port } = new URL(url)
  const body = encodeForm(samplePayload({ type: 'ONIMBOTV2MESSAGEADD', token: 'tok' }) as PhpValue)
  const socket = connect(Number(port), '127.0.0.1')
  let reply = ''
  socket.on('data', (chunk) => (reply += chunk.toString()))
  await new Promise((resolve) => socket.on('connect', resolve))
  // `Expect: 100-continue`: the server says when it has read the headers, so the request is in
  // flight for certain when SIGTERM arrives; the body follows once the service says it is closing.
  socket.write(`POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
  await eventually(() => reply.includes('100 Continue'), 10000)
  child.kill('SIGTERM')
  await eventually(() => output().includes('"msg":"closing'), 10000)
  socket.end(body)
  const code = await exited
  t.match(reply, /^HTTP\/1.1 100 Continue[\s\S]*HTTP\/1.1 200[\s\S]*\{"ok":true\}/, 'the request in flight got its 200')
  t.equal(code, 0)
  t.match(output(), /"msg":"closing[^"]*"[\s\S]*"msg":"event"[\s\S]*"msg":"closed"/)
})
