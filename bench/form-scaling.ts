// Parsing stays linear in the body: the door's scan and the full parse (no limits) timed on a real
// event grown to 1x, 10x and 100x its keyboard (4.5k, 45k, 450k pairs), in µs per pair; a ratio
// near 1 is linear. Each run starts from a collected heap, so the figure is the parser's, not the
// garbage of the run before. The key cache is filled with other keys first, so that no size is
// flattered by it: every key is read in full, as a body of one-off keys is.
//   npm run bench -- form-scaling
import { readFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { parseForm } from '../src/wire/parse-form.ts'
import { scanForm } from '../src/wire/scan-form.ts'

const UNBOUNDED = { maxPairs: Infinity, maxDepth: Infinity, maxKeyLength: Infinity }
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function bodyWith(buttons: number): string {
  const payload = JSON.parse(readFileSync(new URL('../test/fixtures/bitrix/imbot_v2_message_add_webhook.payload.json', import.meta.url), 'utf8')) as { data: { message: { params: unknown } } }
  payload.data.message.params = { KEYBOARD: Array.from({ length: buttons }, (_, i) => ({ TEXT: `Option ${i}`, COMMAND: 'pick', COMMAND_PARAMS: String(i) })) }
  return encodeForm(payload as unknown as PhpValue)
}

// The median of single runs, each after a collection.
function medianMs(run: () => unknown, runs: number): number {
  run()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    gc()
    const start = performance.now()
    run()
    times.push(performance.now() - start)
  }
  return times.sort((a, b) => a - b)[runs >> 1] as number
}

export function benchFormScaling(): string {
  parseForm(Array.from({ length: 5000 }, (_, i) => `filler${i}=1`).join('&'))
  const bodies = [1500, 15000, 150000].map(bodyWith)
  const pairs = bodies.map((body) => body.split('&').length)
  const lines: string[] = []
  for (const [what, run] of [['scan', scanForm], ['full parse', (body: string) => parseForm(body, UNBOUNDED)]] as const) {
    const perPair = bodies.map((body, i) => (medianMs(() => run(body), i === 2 ? 5 : 9) * 1000) / (pairs[i] as number))
    lines.push(
      `${what.padEnd(10)} ${perPair.map((us, i) => `${pairs[i]} pairs ${us.toFixed(3)} µs/pair`).join(', ')}`,
      `${''.padEnd(10)} per pair at 10x: ${((perPair[1] as number) / (perPair[0] as number)).toFixed(2)}x, at 100x: ${((perPair[2] as number) / (perPair[0] as number)).toFixed(2)}x (1.00 = linear)`,
    )
  }
  return lines.join('\n')
}
