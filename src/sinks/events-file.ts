import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { NormalizedEvent } from '../event/decoded-event.ts'
import type { HandlerContext } from '../router/handler-context.ts'

// A crash can come between a line written and its event marked done; that event is handled
// again after the restart, or by another replica writing to the same file. The keys of the last
// lines tell which events are written already: those at the end of the file when it is opened,
// then those any process appended since, read before each write.
const TAIL_BYTES = 8 * 1024 * 1024
const REMEMBERED_KEYS = 10000

interface PendingLine {
  key: string
  line: string
  done: (error?: unknown) => void
}

/**
 * Built-in handler for `EVENTS_FILE`: appends one JSON line per handled event,
 * `{"event": …, "delivery": …, "key": …}` (the event as `b24-receiver decode` prints it,
 * credentials left out). Lines are written in handling order, and once per event: a retry or a
 * restart does not write an event again. The lines handed over while a write is in flight go
 * out together in the next one: many chats handled at once make one append, not one each.
 */
export function eventsFile(path: string, memory = { tailBytes: TAIL_BYTES, keys: REMEMBERED_KEYS }): (event: NormalizedEvent, ctx: HandlerContext) => Promise<void> {
  const written = new Set<string>()
  const remember = (key: string) => {
    written.add(key)
    if (written.size > memory.keys) written.delete(written.values().next().value as string)
  }
  /** Where the lines not read yet begin. */
  let position = 0
  // An unreadable file is no reason to stop: its writes will fail, be retried, and say why.
  const ready = readWrittenKeys(path, memory.tailBytes).then(
    (tail) => {
      tail.keys.forEach(remember)
      position = tail.end
    },
    () => undefined,
  )
  let pending: PendingLine[] = []
  let writing = false
  // Opened once and written synchronously: a few tens of KB to the page cache take microseconds,
  // while an appendFile per batch (open, write, close through the thread pool) made many chats
  // wait on each other.
  let fd: number | null = null

  // The keys of the lines appended since `position` (by another process, or our last batch, read
  // back: cheaper than telling them apart); a line being written is read next time.
  const catchUp = (fd: number) => {
    const size = fstatSync(fd).size
    if (size <= position) return
    const buffer = Buffer.alloc(size - position)
    const read = readSync(fd, buffer, 0, buffer.length, position)
    const complete = buffer.lastIndexOf(0x0a, read - 1) + 1
    keysOf(buffer.subarray(0, complete).toString('utf8').split('\n')).forEach(remember)
    position += complete
  }

  const writeAll = async () => {
    writing = true
    await ready
    while (pending.length > 0) {
      const batch = pending
      pending = []
      try {
        fd ??= openSync(path, 'a+')
        catchUp(fd)
        const keys = new Set<string>()
        let text = ''
        for (const { key, line } of batch) {
          if (written.has(key) || keys.has(key)) continue
          keys.add(key)
          text += line
        }
        if (text !== '') writeSync(fd, text)
        keys.forEach(remember)
        for (const { done } of batch) done()
      } catch (error) {
        // Opened again on the next write: the file may have been moved or fixed meanwhile.
        if (fd !== null) closeSync(fd)
        fd = null
        for (const { done } of batch) done(error)
      }
    }
    writing = false
  }

  return (event, ctx) =>
    new Promise<void>((resolve, reject) => {
      const line = JSON.stringify({ event, delivery: { source: ctx.source, portal: ctx.portal, attempt: ctx.attempt }, key: ctx.key }) + '\n'
      pending.push({ key: ctx.key, line, done: (error) => (error === undefined ? resolve() : reject(error)) })
      if (!writing) void writeAll()
    })
}

// The keys of the complete lines at the end of the file, and where it ended (creating its
// directory if needed).
async function readWrittenKeys(path: string, tailBytes: number): Promise<{ keys: string[]; end: number }> {
  await mkdir(dirname(path), { recursive: true })
  const file = await open(path, 'r').catch(() => null)
  if (!file) return { keys: [], end: 0 }
  try {
    const { size } = await file.stat()
    const start = Math.max(0, size - tailBytes)
    const buffer = Buffer.alloc(size - start)
    await file.read(buffer, 0, buffer.length, start)
    const lines = buffer.toString('utf8').split('\n')
    if (start > 0) lines.shift() // cut in the middle
    return { keys: keysOf(lines), end: size }
  } finally {
    await file.close()
  }
}

function keysOf(lines: string[]): string[] {
  return lines.flatMap((line) => {
    try {
      const key = (JSON.parse(line) as { key?: unknown }).key
      return typeof key === 'string' ? [key] : []
    } catch {
      return [] // an empty or torn line
    }
  })
}
