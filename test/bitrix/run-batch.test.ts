import t from 'tap'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { BATCH_LIMIT, runBatch, type BatchCall, type SendBatch } from '../../src/bitrix/run-batch.ts'

const calls = (count: number, method = 'user.get'): BatchCall[] => Array.from({ length: count }, (_, i) => ({ method, params: { ID: i } }))
const commandsOf = (list: BatchCall[]) => list.map((call) => `${call.method}?ID=${String(call.params?.ID)}`)

/** A portal's batch as documented (how-to-call-rest-api/batch.md): every command answered under its key, sent requests noted. */
function portal(answer: (command: string, key: string) => { result: unknown } | { error: string; error_description?: string }) {
  const requests: Array<{ halt: number; cmd: string[] }> = []
  const send: SendBatch = async (params) => {
    requests.push(params)
    const result: Record<string, unknown> = {}
    const errors: Record<string, unknown> = {}
    params.cmd.forEach((command, index) => {
      const reply = answer(command, String(index))
      if ('result' in reply) result[index] = reply.result
      else errors[index] = reply
    })
    return { result, result_error: Object.keys(errors).length ? errors : [], result_total: [], result_next: [], result_time: [] }
  }
  return { send, requests }
}

t.test('at most 50 commands a request: 120 calls go as 50, 50 and 20, in order, each with halt 0', async (t) => {
  const { send, requests } = portal((command) => ({ result: { command } }))
  const list = calls(120)
  const outcomes = await runBatch(list, commandsOf(list), send)
  t.equal(BATCH_LIMIT, 50)
  t.same(requests.map((request) => [request.halt, request.cmd.length]), [[0, 50], [0, 50], [0, 20]])
  t.same(requests.flatMap((request) => request.cmd), commandsOf(list))
  t.same(outcomes, list.map((_, i) => ({ ok: true, result: { command: `user.get?ID=${i}` } })))
})

t.test('nothing to send: no request', async (t) => {
  const { send, requests } = portal(() => ({ result: true }))
  t.same(await runBatch([], [], send), [])
  t.same(requests, [])
})

t.test("a call's error is its own outcome, a BitrixError with its method and code; the others go on", async (t) => {
  const list: BatchCall[] = [{ method: 'user.current' }, { method: 'imbot.v2.Chat.Message.send' }, { method: 'crm.lead.get' }, { method: 'crm.deal.get' }]
  const { send } = portal((_command, key) =>
    key === '1' ? { error: 'BOT_NOT_FOUND', error_description: 'Bot not found' } : key === '3' ? { error: 'OPERATION_TIME_LIMIT' } : { result: { ID: key } },
  )
  const outcomes = await runBatch(list, ['user.current', 'imbot.v2.Chat.Message.send', 'crm.lead.get', 'crm.deal.get'], send)
  t.match(outcomes, [{ ok: true, result: { ID: '0' } }, { ok: false }, { ok: true, result: { ID: '2' } }, { ok: false }])
  const [, notFound, , limited] = outcomes as [unknown, { error: BitrixError }, unknown, { error: BitrixError }]
  t.ok(notFound.error instanceof BitrixError)
  t.match(notFound.error, { method: 'imbot.v2.Chat.Message.send', code: 'BOT_NOT_FOUND', status: null, description: 'Bot not found', fatal: true })
  t.match(limited.error, { method: 'crm.deal.get', code: 'OPERATION_TIME_LIMIT', description: '', transient: true, rateLimited: true })
})

t.test("reads the documented answer's shapes: lists for keys 0..n-1, [] when empty, totals and next offsets of list methods", async (t) => {
  const list: BatchCall[] = [{ method: 'crm.lead.list' }, { method: 'user.current' }]
  // All answered: PHP writes result as a list; result_total and result_next name the list method's key only.
  let answer: unknown = { result: [[{ ID: '1' }], { ID: '7' }], result_error: [], result_total: { 0: 120 }, result_next: { 0: 50 }, result_time: [] }
  t.same(await runBatch(list, ['crm.lead.list', 'user.current'], async () => answer), [
    { ok: true, result: [{ ID: '1' }], total: 120, next: 50 },
    { ok: true, result: { ID: '7' } },
  ])
  // All failed (the docs' "Error Example (halt = 0)"): result is [], result_error a list.
  answer = { result: [], result_error: [{ error: 'insufficient_scope', error_description: '' }, { error: 'insufficient_scope' }], result_total: [], result_next: [], result_time: [] }
  t.match(await runBatch(list, ['crm.lead.list', 'user.current'], async () => answer), [
    { ok: false, error: { code: 'insufficient_scope', method: 'crm.lead.list' } },
    { ok: false, error: { code: 'insufficient_scope', method: 'user.current' } },
  ])
  // A call whose result is null was answered all the same.
  answer = { result: { 0: null }, result_error: { 1: { error: 'ACCESS_DENIED' } } }
  t.match(await runBatch(list, ['crm.lead.list', 'user.current'], async () => answer), [{ ok: true, result: null }, { ok: false, error: { code: 'ACCESS_DENIED' } }])
})

t.test('an answer that says nothing of a call gives it ERROR_UNEXPECTED_ANSWER', async (t) => {
  const list: BatchCall[] = [{ method: 'user.current' }, { method: 'user.get' }]
  for (const answer of [{ result: { 0: true } }, { result: [true], result_error: { 1: 'not an error object' } }, null, 'text']) {
    const outcomes = await runBatch(list, ['user.current', 'user.get'], async () => answer)
    t.match(outcomes.at(-1), { ok: false, error: { method: 'user.get', code: 'ERROR_UNEXPECTED_ANSWER', transient: true } }, JSON.stringify(answer))
  }
})

t.test('a request that fails as a whole gives each of its calls that error, and the next requests still go', async (t) => {
  const list = calls(60)
  let sent = 0
  const timeout = new BitrixError('batch', 'TIMEOUT', null, 'no answer within 1000 ms')
  const outcomes = await runBatch(list, commandsOf(list), async (params) => {
    if (sent++ === 0) throw timeout
    return { result: params.cmd.map((command) => command) }
  })
  t.equal(sent, 2)
  t.equal(outcomes.length, 60)
  for (const outcome of outcomes.slice(0, 50)) t.match(outcome, { ok: false, error: { method: 'user.get', code: 'TIMEOUT', status: null, description: 'no answer within 1000 ms', cause: timeout } })
  t.same(outcomes.slice(50), list.slice(50).map((_, i) => ({ ok: true, result: `user.get?ID=${50 + i}` })))
  const limited = new BitrixError('batch', 'QUERY_LIMIT_EXCEEDED', 503, 'Too many requests')
  t.match(await runBatch(calls(1), ['user.get?ID=0'], () => Promise.reject(limited)), [{ ok: false, error: { code: 'QUERY_LIMIT_EXCEEDED', status: 503, rateLimited: true } }])
})

t.test('anything else a request throws (an abandoned attempt) is thrown, later requests unsent', async (t) => {
  const list = calls(60)
  const abandoned = new DOMException('the claim was lost', 'AbortError')
  let sent = 0
  await t.rejects(
    runBatch(list, commandsOf(list), async () => {
      sent++
      throw abandoned
    }),
    abandoned,
  )
  t.equal(sent, 1)
})
