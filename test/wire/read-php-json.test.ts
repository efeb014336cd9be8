import t from 'tap'
import { MalformedBodyError } from '../../src/errors.ts'
import { PhpFloat } from '../../src/wire/php-float.ts'
import { readPhpJson } from '../../src/wire/read-php-json.ts'

t.test('reads objects as ordered maps, as PHP arrays keep their order', async (t) => {
  const map = readPhpJson('{"5": "a", "1": "b", "x": {"k": [1, true, null, "s"]}, "5": "c"}') as Map<string, unknown>
  t.same([...map.keys()], ['5', '1', 'x'], 'a repeated key keeps its first place')
  t.equal(map.get('5'), 'c', 'and takes the last value')
  t.same((map.get('x') as Map<string, unknown>).get('k'), [1, true, null, 's'])
  t.same(readPhpJson(' { } '), new Map())
  t.same(readPhpJson('[ ]'), [])
  t.equal(readPhpJson('"\\u00e9\\n\\ud83d\\ude00"'), 'é\n😀')
  t.equal(readPhpJson('false'), false)
})

t.test('tells PHP integers from floats', async (t) => {
  t.equal(readPhpJson('42'), 42)
  t.equal(readPhpJson('-9007199254740993'), -9007199254740993n, 'past 2^53 as bigint')
  t.equal(readPhpJson('9223372036854775807'), 9223372036854775807n)
  t.same(readPhpJson('9223372036854775808'), new PhpFloat(9223372036854775808), 'past 64 bits a float, as in PHP')
  t.same(readPhpJson('1.0'), new PhpFloat(1))
  t.same(readPhpJson('-2e3'), new PhpFloat(-2000))
})

t.test('refuses what is not JSON', async (t) => {
  for (const text of ['', '{', '{"a" 1}', '{"a":1,}', '[1 2]', 'tru', '01', '"\\x"', '{"a":1}x', "{'a':1}", '[1,]', '{1:2}', '{"a":1]', '[1}']) {
    t.throws(() => readPhpJson(text), MalformedBodyError, JSON.stringify(text))
  }
})
