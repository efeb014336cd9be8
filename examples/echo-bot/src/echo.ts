import type { ChatEventOf, HandlerContext } from 'b24-receiver'

/**
 * Answers a message sent to the bot with its own text, as the bot (`ctx.bitrix` calls with the
 * bot's OAuth tokens that came with the event). Mounted the same way in both servers:
 * `receiver.on('ONIMBOTV2MESSAGEADD', echo)`.
 */
export async function echo(event: ChatEventOf<'ONIMBOTV2MESSAGEADD'>, ctx: HandlerContext): Promise<void> {
  const { message, chat } = event.data
  // A throw (the portal is unreachable, say) retries the event later; replyId ties the answer to
  // the message, so a retry that answers twice is easy to spot.
  await ctx.bitrix.call('imbot.v2.Chat.Message.send', {
    dialogId: chat.dialogId,
    fields: { message: `You wrote: ${message.text}`, replyId: message.id },
  })
  ctx.log.info({ chat: chat.dialogId }, 'echoed')
}
