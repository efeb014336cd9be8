// The echo bot in a Fastify app: the receiver is a plugin next to your own routes.
import Fastify from 'fastify'
import { createReceiver, b24Receiver } from 'b24-receiver'
import { echo } from './echo.ts'

// createReceiver never reads the environment: the app decides what comes from where.
const receiver = createReceiver({
  tokens: (process.env.B24_APP_TOKENS ?? '').split(',').filter(Boolean),
  dataDir: process.env.DATA_DIR ?? './data',
  // The hosts ctx.bitrix may answer to, when not Bitrix24's cloud (the default): a portal on a
  // domain of its own, or a stand-in portal on this machine (test/examples.test.ts names 127.0.0.1).
  portalHosts: process.env.B24_PORTAL_HOSTS?.split(','),
})
receiver.on('ONIMBOTV2MESSAGEADD', echo)

const app = Fastify()
await app.register(b24Receiver, { receiver, path: '/webhook' }) // starts the worker; closes with app
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`echo bot listening on ${address}/webhook`)

// Closing the app stops the receiver: events in flight are finished or kept for the next start.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close())
