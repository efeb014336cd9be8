import type { FastifyError, FastifyPluginAsync } from 'fastify'
import { AcceptedReplySchema, ErrorReplySchema } from '../schemas/reply.ts'
import { BodyTooLargeError, MalformedBodyError, ReceiverError, UnsupportedMediaTypeError } from '../src/errors.ts'
import { errorReply } from '../src/door/error-reply.ts'
import type { Receiver } from '../src/receiver/receiver.ts'

export interface WebhookRouteOptions {
  receiver: Receiver
  path: string
}

// Fastify's own refusals, as the receiver's errors: the same codes whichever layer refused.
const FASTIFY_ERRORS: Record<string, () => ReceiverError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new BodyTooLargeError(),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new UnsupportedMediaTypeError(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new MalformedBodyError('the body length does not match Content-Length'),
}

/**
 * `POST path`: where Bitrix24 posts events (outgoing webhooks, `event.bind` handlers,
 * webhook-mode bots). The body is handed to the receiver as it came (the receiver reads forms and
 * JSON itself); Fastify only stops reading past the body limit. One log line per request.
 */
export const webhookRoute: FastifyPluginAsync<WebhookRouteOptions> = async (app, { receiver, path }) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))

  // What refused each request, for its log line: the one place a refusal is kept.
  const refusals = new WeakMap<object, string>()
  app.addHook('onResponse', async (request, reply) => {
    // The path only: a sender may put its token in the query string (auth[application_token]=…).
    const line = { method: request.method, url: request.url.split('?', 1)[0], statusCode: reply.statusCode, error: refusals.get(request), ms: Math.round(reply.elapsedTime * 10) / 10 }
    request.log.info(line, 'request')
  })
  // Bitrix24 never compresses; a compressed body would otherwise reach the parsers as bytes and
  // be refused as NOT_AN_EVENT, which hides what to change. Refused before the body is read.
  app.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding']
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new UnsupportedMediaTypeError('a compressed body (Content-Encoding) is not accepted: send it uncompressed')
    }
  })
  // Fastify's refusals (past the body limit, a compressed body, the app's own hooks) reach this
  // handler, never the receiver's door: counted here as the door's answers. `handle()` counts its
  // own and never throws.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof ReceiverError ? error : FASTIFY_ERRORS[error.code]?.()
    const mapped = known ?? (error.statusCode && error.statusCode < 500 ? new ReceiverError('BAD_REQUEST', error.statusCode, 'the request is not valid') : error)
    const { status, body } = errorReply(mapped, request.log)
    refusals.set(request, body.error)
    receiver.countRefusal(status)
    return reply.code(status).send(body)
  })

  app.post(
    path,
    { bodyLimit: receiver.bodyLimit, schema: { response: { 200: AcceptedReplySchema, '4xx': ErrorReplySchema, '5xx': ErrorReplySchema } } },
    async (request, reply) => {
      const { status, body } = await receiver.handle({ body: (request.body as string | undefined) ?? '', contentType: request.headers['content-type'] })
      if ('error' in body) refusals.set(request, body.error)
      return reply.code(status).send(body)
    },
  )
}
