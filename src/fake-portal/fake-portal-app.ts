import Fastify, { type FastifyInstance } from 'fastify'
import { Compile } from 'typebox/compile'
import { FakeEventRequestSchema, type FakeEventAnswer } from '../../schemas/fake-portal.ts'
import { FakePortalRefusal, type FakePortals } from './fake-portals.ts'

export interface FakePortalAppOptions {
  portals: FakePortals
  /** Gets one line per request answered: what was asked, of which portal, and the answer's code; never a token. */
  onCall: (line: string) => void
}

const checkRequest = Compile(FakeEventRequestSchema)

/**
 * The HTTP side of `b24-receiver fake-portal` (a development tool): the OAuth server's
 * `GET /rest/app.info` and `GET /oauth/token/`, each portal's REST API at
 * `POST /portal/MEMBER_ID/rest/METHOD` (JSON, `auth` the access token, as the receiver calls it),
 * and `POST /fake/events`, where `simulate --fake-portal` gets the payload a portal posts.
 * Refusals are Bitrix24's `{error, error_description}`. It never listens itself.
 */
export function fakePortalApp({ portals, onCall }: FakePortalAppOptions): FastifyInstance {
  const app = Fastify()
  app.setErrorHandler((error, request, reply) => {
    if (!(error instanceof FakePortalRefusal)) return reply.send(error)
    // The path only: app.info and the refresh carry their tokens in the query string.
    onCall(`${request.method} ${request.url.split('?', 1)[0]}: ${error.status} ${error.code} (${error.message})`)
    return reply.code(error.status).send({ error: error.code, error_description: error.message })
  })

  app.get<{ Querystring: Record<string, string> }>('/rest/app.info', async (request) => {
    const result = portals.appInfo(request.query.auth)
    onCall(`app.info: an access token of ${result.install.domain}, issued to ${result.client_id}`)
    return { result }
  })

  app.get<{ Querystring: Record<string, string> }>('/oauth/token/', async (request) => {
    const answer = portals.refresh(request.query)
    onCall(`oauth/token: a new pair of tokens for member ${answer.member_id as string}`)
    return answer
  })

  app.post<{ Params: { memberId: string; method: string }; Body: Record<string, unknown> | null }>('/portal/:memberId/rest/:method', async (request) => {
    const { memberId, method } = request.params
    const { auth, ...params } = request.body ?? {}
    const { domain, result } = portals.call(memberId, method, auth)
    onCall(`${domain} REST ${method} ${JSON.stringify(params)}`)
    return { result }
  })

  app.post('/fake/events', async (request): Promise<FakeEventAnswer> => {
    const body = request.body
    if (!checkRequest.Check(body)) throw new FakePortalRefusal(400, 'BAD_REQUEST', 'not an event request of simulate --fake-portal: {type, portal?, text?, chatId?, userId?}')
    const payload = portals.event(body)
    onCall(`${body.type} of ${(payload.auth as { domain: string }).domain}: handed to simulate, which posts it`)
    return { payload }
  })
  return app
}
