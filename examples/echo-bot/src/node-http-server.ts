// The same echo bot without a framework: a plain node:http server hands each request to
// receiver.handle(), which answers with the status and body to send back.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createReceiver } from 'b24-receiver'
import { echo } from './echo.ts'

const receiver = createReceiver({
  tokens: (process.env.B24_APP_TOKENS ?? '').split(',').filter(Boolean),
  dataDir: process.env.DATA_DIR ?? './data',
  // The hosts ctx.bitrix may answer to, when not Bitrix24's cloud (the default): a portal on a
  // domain of its own, or a stand-in portal on this machine (test/examples.test.ts names 127.0.0.1).
  portalHosts: process.env.B24_PORTAL_HOSTS?.split(','),
})
receiver.on('ONIMBOTV2MESSAGEADD', echo)

/** The body, or `null` past `limit` bytes (read to the end, not kept, so that the 413 can be sent). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= limit) chunks.push(chunk)
  }
  return size <= limit ? Buffer.concat(chunks) : null
}

const server = createServer(async (request, response) => {
  if (request.method !== 'POST' || request.url !== '/webhook') {
    response.writeHead(404).end()
    return
  }
  const body = await readBody(request, receiver.bodyLimit)
  const reply = body ? await receiver.handle({ body, contentType: request.headers['content-type'] }) : { status: 413, body: { error: 'BODY_TOO_LARGE', message: 'the body is larger than the configured limit' } }
  response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body))
})

await receiver.start() // the store and the worker; handle() refuses events (503) until it has run
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`echo bot listening on http://${address}:${port}/webhook`)
})

// Stop taking requests, then close the receiver: events in flight are finished or kept for the next start.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void receiver.beginClose()
    server.close(() => void receiver.close())
  })
}
