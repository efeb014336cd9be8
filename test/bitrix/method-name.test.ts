import t from 'tap'
import { isMethodName } from '../../src/bitrix/method-name.ts'

t.test('a method name is dotted words of letters, digits and _', async (t) => {
  for (const name of ['batch', 'imbot.v2.Chat.Message.send', 'crm_lead.list', 'user.current']) t.ok(isMethodName(name), name)
  for (const name of ['', '.user', 'user.', 'user..current', 'user.current?ID=1', 'a&b', 'a/b', 'a b', undefined, 7]) t.notOk(isMethodName(name), String(name))
})
