import formbody from '@fastify/formbody'
import type { FastifyPluginAsync } from 'fastify'
import Type from 'typebox'
import type { TokenSet } from '../src/auth/token-set.ts'
import { verifyToken } from '../src/auth/verify-token.ts'
import { EnvelopeError, EventValidationError } from '../src/errors.ts'
import { normalizeWebhook, webhookCredentials } from '../src/event/normalize-webhook.ts'
import { freeFormObject } from '../src/wire/free-form.ts'
import { parseForm } from '../src/wire/parse-form.ts'
import type { Pipeline } from '../src/pipeline/pipeline.ts'
import { ErrorReplySchema } from './error-reply.ts'

export interface WebhookRouteOptions {
  tokens: TokenSet
  pipeline: Pipeline
}

const AcceptedSchema = Type.Object({ ok: Type.Literal(true) })

/**
 * `POST /webhook`: where Bitrix24 posts events (outgoing webhooks, `event.bind` handlers,
 * webhook-mode bots). Form bodies (PHP `http_build_query`) and JSON. The token is checked
 * first; 200 means the event is in the pipeline's hands.
 */
export const webhookRoute: FastifyPluginAsync<WebhookRouteOptions> = async (app, { tokens, pipeline }) => {
  await app.register(formbody, { parser: (body) => parseForm(body) })
  // Bitrix24 posts forms; JSON is accepted too. Anything else, Fastify's text/plain included, is a 415.
  app.removeContentTypeParser('text/plain')

  app.post(
    '/webhook',
    {
      schema: {
        response: { 200: AcceptedSchema, '4xx': ErrorReplySchema, 500: ErrorReplySchema, 503: ErrorReplySchema },
      },
    },
    async (request) => {
      const payload = request.body
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new EnvelopeError('not a Bitrix24 event: the body is empty or not an object')
      const body = payload as Record<string, unknown>
      verifyToken(body, tokens)
      let inbound
      try {
        inbound = normalizeWebhook(body)
      } catch (error) {
        // Authenticated but off its schema: keep it for a replay after a fix, and say why.
        if (error instanceof EventValidationError) {
          const credentials = webhookCredentials(body)
          await pipeline.reject({ payload: freeFormObject(body), portal: credentials.portal, credentials, error, source: 'webhook' })
        }
        throw error
      }
      await pipeline.accept(inbound)
      return { ok: true as const }
    },
  )
}
