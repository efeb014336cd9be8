import { readFileSync } from 'node:fs'
import { parseForm } from '../src/wire/parse-form.ts'
import { normalizeWebhook } from '../src/event/normalize-webhook.ts'
const body = readFileSync('test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt', 'utf8')
for (let i = 0; i < 200000; i++) normalizeWebhook(parseForm(body))
