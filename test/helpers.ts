import { readdirSync, readFileSync } from 'node:fs'

const fixtures = new URL('./fixtures/', import.meta.url)

/** Reads a file under test/fixtures as text. */
export const readFixture = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8')

/** The names of the real Bitrix24 cases in test/fixtures/bitrix (`<case>.body.txt` + `<case>.payload.json`). */
export const bitrixCases = (): string[] =>
  readdirSync(new URL('bitrix/', fixtures))
    .filter((name) => name.endsWith('.body.txt'))
    .map((name) => name.slice(0, -'.body.txt'.length))
    .sort()

/** A JSON round trip: what a value looks like to anyone who reads it as JSON (loosely typed, for assertions). */
export const asJson = (value: unknown): any => JSON.parse(JSON.stringify(value))
