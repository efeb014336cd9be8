import { Router } from './router/router.ts'

/**
 * An example bot, on when `EXAMPLE_BOT=true`: it answers a message to the bot with an echo
 * (`ctx.reply`: `imbot.v2.Chat.Message.send` in the message's dialog) and a slash command with
 * what it understood (`imbot.v2.Command.answer`). A router of its own: `receiver.use(exampleBot())`.
 *
 * `ctx.bitrix` calls as the bot: with its OAuth tokens when the event came by webhook, through
 * `B24_REST_URL` (adding `botId` and `botToken`) when it came by polling. A failed call throws, so
 * the event is retried; keep answers safe to repeat (a retry after a timeout may answer twice).
 */
export function exampleBot(): Router {
  const router = new Router()
  router.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
    const { message } = event.data
    await ctx.reply({ message: message.text ? `You wrote: ${message.text}` : 'I got your message.', replyId: message.id })
  })

  router.on('ONIMBOTV2COMMANDADD', async (event, ctx) => {
    const { command, message, chat } = event.data
    const args = command.params.trim()
    await ctx.bitrix.call('imbot.v2.Command.answer', {
      commandId: command.id,
      messageId: message.id,
      dialogId: chat.dialogId,
      fields: { message: `Command ${command.command}${args ? ` with "${args}"` : ''} received.` },
    })
  })
  return router
}
