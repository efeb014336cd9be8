import { MalformedBodyError } from '../errors.ts'
import type { PhpValue } from './encode-form.ts'
import { PhpFloat } from './php-float.ts'

const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y
const SPACE = /[ \t\n\r]*/y

/**
 * Reads JSON as PHP's `json_decode($json, true)` sees it, for byte-exact re-encoding: objects
 * become `Map`s in key order (a repeated key keeps its first place and last value), integers
 * stay integers up to 64 bits (`bigint` past 2^53), anything with a fraction or exponent, or
 * past 64 bits, is a {@link PhpFloat}.
 * @throws {MalformedBodyError} for text that is not JSON.
 */
export function readPhpJson(text: string): PhpValue {
  let at = 0
  const fail = (): never => {
    throw new MalformedBodyError(`invalid JSON at character ${at}`)
  }
  const skip = () => {
    SPACE.lastIndex = at
    SPACE.test(text)
    at = SPACE.lastIndex
  }
  const match = (pattern: RegExp) => {
    pattern.lastIndex = at
    const found = pattern.exec(text) ?? fail()
    at = pattern.lastIndex
    return found
  }
  const literal = (word: string, value: PhpValue) => {
    if (!text.startsWith(word, at)) fail()
    at += word.length
    return value
  }
  const value = (): PhpValue => {
    skip()
    switch (text[at]) {
      case '{': {
        const map = new Map<string, PhpValue>()
        at++
        skip()
        if (text[at] === '}') return at++, map
        do {
          skip()
          const key = JSON.parse(match(STRING)[0]) as string
          skip()
          if (text[at++] !== ':') fail()
          map.set(key, value())
          skip()
        } while (text[at++] === ',')
        if (text[at - 1] !== '}') fail()
        return map
      }
      case '[': {
        const list: PhpValue[] = []
        at++
        skip()
        if (text[at] === ']') return at++, list
        do list.push(value()), skip()
        while (text[at++] === ',')
        if (text[at - 1] !== ']') fail()
        return list
      }
      case '"':
        return JSON.parse(match(STRING)[0]) as string
      case 't':
        return literal('true', true)
      case 'f':
        return literal('false', false)
      case 'n':
        return literal('null', null)
      default:
        return number(match(NUMBER))
    }
  }
  const result = value()
  skip()
  if (at !== text.length) fail()
  return result
}

function number([lexeme, fraction, exponent]: RegExpExecArray): PhpValue {
  if (fraction === undefined && exponent === undefined) {
    const integer = BigInt(lexeme)
    if (integer >= INT64_MIN && integer <= INT64_MAX) {
      return integer >= BigInt(Number.MIN_SAFE_INTEGER) && integer <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(integer) : integer
    }
  }
  return new PhpFloat(Number(lexeme))
}
