import { Compile } from 'typebox/compile'
import { FakeEventAnswerSchema, type FakeEventRequest } from '../../schemas/fake-portal.ts'
import { readJsonObject } from '../bitrix/read-json-object.ts'
import { BadArgumentsError } from '../errors.ts'

const checkAnswer = Compile(FakeEventAnswerSchema)

/**
 * Asks `b24-receiver fake-portal` at `baseUrl` for the payload one of its portals posts for
 * `request` (installing, updating or uninstalling the application there for a lifecycle type).
 * @throws {BadArgumentsError} when it cannot be reached, refuses (its `error_description`), or is
 *   not a fake portal.
 */
export async function fakePortalEvent(baseUrl: string, request: FakeEventRequest): Promise<Record<string, unknown>> {
  let response: Response
  let text: string
  try {
    response = await fetch(new URL('/fake/events', baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
    text = await response.text()
  } catch (error) {
    // fetch says `fetch failed`; why (refused, DNS) is in its cause. A bad URL throws before it.
    const cause = (error as Error).cause
    throw new BadArgumentsError(`cannot reach the fake portal at ${baseUrl}: ${(error as Error).message}${cause ? `: ${String(cause)}` : ''}`)
  }
  const answer = readJsonObject(text)
  if (response.ok && checkAnswer.Check(answer)) return answer.payload
  const why = typeof answer?.error_description === 'string' ? answer.error_description : `HTTP ${response.status}, not an answer of b24-receiver fake-portal`
  throw new BadArgumentsError(`the fake portal at ${baseUrl} gives no ${request.type}: ${why}`)
}
