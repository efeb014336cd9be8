// Decoding the captured 4.6 KB ONIMBOTV2MESSAGEADD: the project's parse + coerce + validate,
// side by side with the generic pair (qs.parse, then TypeBox Value.Convert and a compiled Check).
//   npm run bench -- decode
import { readFileSync } from 'node:fs'
import qs from 'qs'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import { EventDataSchemas } from '../schemas/event-data.ts'
import { normalizeWebhook } from '../src/event/normalize-webhook.ts'
import { parseForm } from '../src/wire/parse-form.ts'
import { measure, type Timing } from './measure.ts'

export function benchDecode(): Timing[] {
  const body = readFileSync(new URL('../test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt', import.meta.url), 'utf8')
  const schema = EventDataSchemas.ONIMBOTV2MESSAGEADD
  const check = Compile(schema)
  // The generic pair does the same work but cannot restore what PHP dropped (`departments`,
  // `forward`, `params`), so its Check fails on this body: it is timed all the same.
  const baseline = () => check.Check(Value.Convert(schema, (qs.parse(body, { depth: 64, parameterLimit: 1000 }) as { data: unknown }).data))
  const ours = () => normalizeWebhook(parseForm(body))
  ours()
  return measure({ 'b24-receiver parse+coerce+validate': ours, 'qs.parse + Value.Convert + Check': baseline })
}

export function reportDecode(timings: Timing[]): string {
  const [ours, base] = timings as [Timing, Timing]
  const lines = timings.map((t) => `${t.name.padEnd(40)} median ${t.medianUs.toFixed(1).padStart(7)} µs  (p10 ${t.p10Us.toFixed(1)}, p90 ${t.p90Us.toFixed(1)})`)
  lines.push(`ratio: b24-receiver is ${(base.medianUs / ours.medianUs).toFixed(2)}x faster (medians)`)
  return lines.join('\n')
}
