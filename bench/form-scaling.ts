// Parsing stays linear in the body: the door's scan and the full parse (no limits) timed on a real
// event grown to 1x, 10x and 100x its keyboard, in µs per pair; the ratios should stay near 1.
//   npm run bench -- form-scaling
import { readFileSync } from 'node:fs'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { parseForm } from '../src/wire/parse-form.ts'
import { scanForm } from '../src/wire/scan-form.ts'
import { measure } from './measure.ts'

const UNBOUNDED = { maxPairs: Infinity, maxDepth: Infinity, maxKeyLength: Infinity }

function bodyWith(buttons: number): string {
  const payload = JSON.parse(readFileSync(new URL('../test/fixtures/bitrix/imbot_v2_message_add_webhook.payload.json', import.meta.url), 'utf8')) as { data: { message: { params: unknown } } }
  payload.data.message.params = { KEYBOARD: Array.from({ length: buttons }, (_, i) => ({ TEXT: `Option ${i}`, COMMAND: 'pick', COMMAND_PARAMS: String(i) })) }
  return encodeForm(payload as unknown as PhpValue)
}

export function benchFormScaling(): string {
  const sizes = [150, 1500, 15000]
  const bodies = sizes.map(bodyWith)
  const pairs = bodies.map((body) => body.split('&').length)
  const lines: string[] = []
  for (const [what, run] of [['scan', (body: string) => scanForm(body)], ['full parse', (body: string) => parseForm(body, UNBOUNDED)]] as const) {
    const cases = Object.fromEntries(bodies.map((body, i) => [String(pairs[i]), () => run(body)]))
    const timings = measure(cases, { rounds: 15, batch: 3, warmup: 5 })
    const perPair = timings.map((timing, i) => timing.medianUs / (pairs[i] as number))
    lines.push(
      `${what.padEnd(10)} ${timings.map((timing, i) => `${pairs[i]} pairs ${(timing.medianUs / 1000).toFixed(2)} ms (${perPair[i]?.toFixed(3)} µs/pair)`).join(', ')}`,
      `${''.padEnd(10)} per-pair cost at 10x: ${((perPair[1] as number) / (perPair[0] as number)).toFixed(2)}x, at 100x: ${((perPair[2] as number) / (perPair[0] as number)).toFixed(2)}x (1.00 = linear)`,
    )
  }
  return lines.join('\n')
}
