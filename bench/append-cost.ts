// What one durable append costs, by the way it is kept: the SQLite store as it ships (a 4.6 KB
// wire and its sealed credentials per row, group commits of 16) against the least any store
// could do, one write of the same bytes per group to an append-only file (no index, no fsync:
// the same durability as WAL with synchronous=NORMAL). The gap bounds what a different store
// for the wire could win at the door.
//   npm run bench -- append-cost        BENCH_APPEND_ROWS (20000)
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../src/store/sqlite/open-sqlite-store.ts'
import type { NewRecord } from '../src/store/store.ts'

const ROWS = Number(process.env.BENCH_APPEND_ROWS ?? 20000)
const GROUP = 16
const ROUNDS = 3

const wire = readFileSync(new URL('../test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt', import.meta.url), 'utf8')
const record = (i: number): NewRecord => ({
  chatKey: `chat:m:${i % 100}`,
  type: 'ONIMBOTV2MESSAGEADD',
  source: 'webhook',
  portal: { domain: 'p.bitrix24.com', memberId: 'm', clientEndpoint: 'https://p.bitrix24.com/rest/' },
  bodyKind: 'form',
  body: wire.replace('%5Bid%5D=', `%5Bid%5D=${i}`),
  credentials: `v1.${'x'.repeat(1500)}`,
})

async function sqlite(dir: string): Promise<number> {
  const store = openSqliteStore({ dataDir: dir, durability: 'process', dedupWindowMs: 1000 })
  const start = performance.now()
  for (let i = 0; i < ROWS; i += GROUP) await Promise.all(Array.from({ length: GROUP }, (_, j) => store.append(record(i + j))))
  const us = ((performance.now() - start) * 1000) / ROWS
  await store.close()
  return us
}

async function appendOnly(dir: string): Promise<number> {
  const fd = openSync(join(dir, 'segment.log'), 'a')
  const start = performance.now()
  for (let i = 0; i < ROWS; i += GROUP) {
    let batch = ''
    for (let j = 0; j < GROUP; j++) batch += JSON.stringify(record(i + j)) + '\n'
    writeSync(fd, batch)
    await new Promise((resolve) => setImmediate(resolve)) // a group per turn, as the group commit
  }
  const us = ((performance.now() - start) * 1000) / ROWS
  closeSync(fd)
  return us
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

export async function benchAppendCost(): Promise<string> {
  const results = { sqlite: [] as number[], appendOnly: [] as number[] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of [['sqlite', sqlite], ['appendOnly', appendOnly]] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'b24-bench-append-'))
      results[name].push(await run(dir))
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const [s, a] = [median(results.sqlite), median(results.appendOnly)]
  return [
    `${ROWS} rows of 6.5 KB in groups of ${GROUP}, ${ROUNDS} alternating rounds; medians`,
    `SQLite store (append)       ${s.toFixed(1).padStart(6)} µs/row  (rounds: ${results.sqlite.map((v) => v.toFixed(1)).join(', ')})`,
    `append-only file (write)    ${a.toFixed(1).padStart(6)} µs/row  (rounds: ${results.appendOnly.map((v) => v.toFixed(1)).join(', ')})`,
    `ratio: ${(s / a).toFixed(1)}x`,
  ].join('\n')
}
