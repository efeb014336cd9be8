import t from 'tap'
import { batchCommand } from '../../src/bitrix/batch-command.ts'
import { parseForm } from '../../src/wire/parse-form.ts'

t.test('a command is the method alone without parameters', async (t) => {
  t.equal(batchCommand('user.current', {}), 'user.current')
  t.equal(batchCommand('user.current', { nothing: null, none: undefined, empty: [] }), 'user.current', 'PHP leaves out null and empty lists')
})

t.test('parameters follow as PHP http_build_query writes them, nested keys in brackets', async (t) => {
  // The docs' example (data-encoding.md): the value's & is encoded in the query, once more by JSON's string.
  t.equal(batchCommand('crm.lead.add', { fields: { TITLE: 'John&Martin' } }), 'crm.lead.add?fields%5BTITLE%5D=John%26Martin')
  const command = batchCommand('imbot.v2.Chat.Message.send', {
    botId: 456,
    dialogId: 'chat5',
    fields: { message: 'Hi there? 100% ✓', system: false, urlPreview: true, keyboard: [{ TEXT: 'Open', LINK: 'https://example.com/?a=1&b=2' }] },
    ratio: 0.5,
  })
  t.match(command, /^imbot\.v2\.Chat\.Message\.send\?botId=456&dialogId=chat5&fields%5Bmessage%5D=Hi\+there%3F\+100%25\+%E2%9C%93/)
  // What the portal reads back from the query: PHP's $_GET.
  t.same({ ...parseForm(command.slice(command.indexOf('?') + 1)) }, {
    botId: '456',
    dialogId: 'chat5',
    fields: { message: 'Hi there? 100% ✓', system: '0', urlPreview: '1', keyboard: { 0: { TEXT: 'Open', LINK: 'https://example.com/?a=1&b=2' } } },
    ratio: '0.5',
  })
})

t.test('values go through JSON first, as call sends them', async (t) => {
  const at = new Date(Date.UTC(2025, 0, 15, 10, 30))
  t.equal(batchCommand('task.item.update', { deadline: at, skip: () => 1 }), 'task.item.update?deadline=2025-01-15T10%3A30%3A00.000Z')
})
