import { readFileSync } from 'node:fs'
import { measure } from './measure.ts'
const body = readFileSync('test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt', 'utf8')
const pairs = body.split('&').map((p) => { const i = p.indexOf('='); return [p.slice(0, i), p.slice(i + 1)] as const })
console.log(pairs.length)
const keyRe = /^[A-Za-z0-9_-]+(?:%5B[A-Za-z0-9_-]*%5D)*$/
console.log(pairs.filter(([k]) => keyRe.test(k)).length)
console.log(measure({
  split: () => body.split('&'),
  keysDecode: () => { for (const [k] of pairs) decodeURIComponent(k) },
  keysReplace: () => { for (const [k] of pairs) k.replaceAll('%5B', '[').replaceAll('%5D', ']') },
  keysSplit: () => { for (const [k] of pairs) k.split('%5D%5B') },
  valuesDecode: () => { for (const [, v] of pairs) v.includes('%') ? decodeURIComponent(v) : v },
  valuesBuf: () => { for (const [, v] of pairs) v.includes('%') ? Buffer.from(v.replaceAll('+', ' '), 'latin1') : v },
}, { rounds: 11 }).map((t) => `${t.name} ${t.medianUs.toFixed(1)}`))
