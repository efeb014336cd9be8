// The service for bench/outbound.ts: as it ships (from the environment), plus a bot that answers
// every message with one `ctx.reply('answer to MESSAGE_ID')`; a message whose text starts with
// `two calls` first sends the typing notice (`imbot.v2.Chat.InputAction.notify`), so that the
// reply is a handler's second call. The benchmark reads the answers at its stand-in portals and
// matches them to what it posted by that text.
//
// It answers the benchmark's question over IPC (bench/serve-child.ts `ask`):
//   'report' → OutboundReport: every handler run here (message id and `ctx.attempt`), and the
//              errors handlers threw here by code (each one an attempt that failed).
import { startServer } from '../src/service/start-server.ts'
import { announceServer } from './announce-server.ts'

/** What the 'report' question answers. */
export interface OutboundReport {
  /** Message ids whose handler ran here, and the attempt each run was (1: the first). */
  ids: number[]
  attempts: number[]
  /** Errors the handlers threw, by `code` (a BitrixError's), else by name. */
  failures: Record<string, number>
}

const report: OutboundReport = { ids: [], attempts: [], failures: {} }

const server = await startServer(process.env, {
  setup: (receiver) =>
    receiver.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
      const { message, chat } = event.data
      const id = Number(message.id)
      report.ids.push(id)
      report.attempts.push(ctx.attempt)
      try {
        if (String(message.text).startsWith('two calls')) await ctx.bitrix.call('imbot.v2.Chat.InputAction.notify', { dialogId: chat.dialogId })
        await ctx.reply(`answer to ${id}`)
      } catch (error) {
        const code = (error as { code?: unknown }).code
        const key = typeof code === 'string' ? code : (error as Error).name
        report.failures[key] = (report.failures[key] ?? 0) + 1
        throw error
      }
    }),
})

process.on('message', (question) => {
  if (question === 'report') process.send?.(report)
})

announceServer(server.url)
