import { createHash, randomBytes } from 'node:crypto'
import type { ChatEventType } from '../../schemas/event-data.ts'
import { isoInstant } from '../event/iso-instant.ts'

/** The portal a simulated event comes from when none is named. */
export const SAMPLE_PORTAL = 'example.bitrix24.com'

/** A portal's `member_id` in simulated events: one per domain, stable, as a real portal's is. */
export const sampleMemberId = (domain: string): string => createHash('md5').update(domain).digest('hex')

/** What a simulated event is about; everything else is filled with realistic values. */
export interface SampleOptions {
  type: ChatEventType
  /** The application token to send in `auth[application_token]`. */
  token: string
  text?: string
  chatId?: number
  userId?: number
  /** The portal's domain, e.g. `example.bitrix24.com`. */
  portal?: string
  /** Unix seconds; now by default. */
  ts?: number
}

/**
 * A webhook payload shaped like the ones Bitrix24 sends (docs' "Chatbot Objects and Fields
 * 2.0", the captured live event in test/fixtures): `event`, `event_handler_id`, `data`, `ts`,
 * `auth`, with `data.bot.auth` for bot events. Tokens other than `token` are random.
 */
export function samplePayload(options: SampleOptions): Record<string, unknown> {
  const { type, token, text = 'Hello from b24-receiver simulate', chatId = 5, userId = 1, portal = SAMPLE_PORTAL } = options
  const ts = options.ts ?? Math.floor(Date.now() / 1000)
  const date = isoInstant(ts)
  // One portal, one member id, as on a real portal (events of one chat share it).
  const memberId = sampleMemberId(portal)
  const auth = {
    access_token: randomBytes(24).toString('hex'),
    expires: String(ts + 3600),
    expires_in: '3600',
    scope: 'imbot,im',
    domain: portal,
    server_endpoint: 'https://oauth.bitrix.info/rest/',
    status: 'L',
    client_endpoint: `https://${portal}/rest/`,
    member_id: memberId,
    user_id: String(userId),
    refresh_token: randomBytes(24).toString('hex'),
    application_token: token,
  }
  const bot = { id: 456, code: 'support_bot', auth: { ...auth, access_token: randomBytes(24).toString('hex'), user_id: '456' } }
  const user = {
    id: userId, active: true, name: 'John Smith', firstName: 'John', lastName: 'Smith', workPosition: 'Developer', color: '#df532d',
    avatar: '', gender: 'M', birthday: '', extranet: false, bot: false, connector: false, externalAuthId: 'default', status: 'online',
    idle: false, lastActivityDate: date, mobileLastDate: false, desktopLastDate: date, absent: false, departments: [1], phones: false,
    type: 'employee', website: '', email: 'john@example.com',
  }
  const chat = {
    id: chatId, dialogId: `chat${chatId}`, type: 'chat', name: 'Project Chat', messageType: 'C', owner: userId, color: '#ab7761', avatar: '',
    description: '', extranet: false, containsCollaber: false, entityType: '', entityId: '', entityData1: '', entityData2: '', entityData3: '',
    diskFolderId: 42, parentChatId: 0, parentMessageId: 0, isNew: false, textFieldEnabled: 'Y', backgroundId: null,
  }
  const message = { id: 5012, chatId, authorId: userId, date, text, isSystem: false, uuid: '', forward: null, params: {}, viewedByOthers: false }
  const scene = { chat, user, language: 'en' }
  const data: Record<ChatEventType, Record<string, unknown>> = {
    ONIMV2MESSAGEADD: { message, ...scene },
    ONIMV2MESSAGEUPDATE: { message: { ...message, params: { IS_EDITED: 'Y' } }, ...scene },
    ONIMV2MESSAGEDELETE: { messageId: message.id, ...scene },
    ONIMV2REACTIONCHANGE: { reaction: 'like', action: 'add', message, ...scene },
    ONIMV2JOINCHAT: { dialogId: chat.dialogId, ...scene },
    ONIMBOTV2MESSAGEADD: { bot, message, ...scene },
    ONIMBOTV2MESSAGEUPDATE: { bot, message: { ...message, params: { IS_EDITED: 'Y' } }, ...scene },
    ONIMBOTV2MESSAGEDELETE: { bot, messageId: message.id, ...scene },
    ONIMBOTV2JOINCHAT: { bot, dialogId: chat.dialogId, ...scene },
    ONIMBOTV2COMMANDADD: { bot, command: { id: 12, command: '/help', params: text, context: 'textarea' }, message: { ...message, text: `/help ${text}` }, ...scene },
    ONIMBOTV2REACTIONCHANGE: { bot, reaction: 'like', action: 'add', message, ...scene },
    ONIMBOTV2CONTEXTGET: { bot, dialogId: chat.dialogId, context: { entityType: 'CRM', entityId: '164' }, ...scene },
    ONIMBOTV2DELETE: { bot },
  }
  return { event: type, event_handler_id: 42, data: data[type], ts, auth }
}
