import { readFileSync } from 'node:fs'
import { Compile } from 'typebox/compile'
import { EventDataSchemas } from '../schemas/event-data.ts'
import { normalizeWebhook } from '../src/event/normalize-webhook.ts'
import { parseForm } from '../src/wire/parse-form.ts'
import { compileCoercer } from '../src/wire/compile-coercer.ts'
import { measure } from './measure.ts'
const body = readFileSync('test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt', 'utf8')
const schema = EventDataSchemas.ONIMBOTV2MESSAGEADD
const check = Compile(schema)
const coerce = compileCoercer(schema)
const parsed = parseForm(body)
const coerced = coerce(parsed.data)
const pairs = body.split('&')
console.log(measure({
  parse: () => parseForm(body),
  split: () => body.split('&').map((p) => { const i = p.indexOf('='); return [decodeURIComponent(p.slice(0, i)), decodeURIComponent(p.slice(i + 1).replaceAll('+', ' '))] }),
  coerce: () => coerce(parsed.data),
  check: () => check.Check(coerced),
  all: () => normalizeWebhook(parseForm(body)),
}, { rounds: 11 }))
