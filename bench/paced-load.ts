// A steady load: requests sent evenly in time at a fixed rate, whether or not earlier ones were
// answered, as a sender with its own schedule (Bitrix24's event engine) does. autocannon's rate is
// a quota per connection per second, sent in a burst at the top of each second: a test of bursts,
// not of keeping pace.
import { Agent, request } from 'node:http'

export interface PacedLoadOptions {
  url: string
  /** Requests per second. */
  rate: number
  seconds: number
  /** Sockets kept open (requests wait for a free one, as a client's pool does). */
  connections: number
  /** The i-th body, made as it is sent. */
  body: (i: number) => string
  headers: Record<string, string>
}

export interface PacedLoadResult {
  sent: number
  answered: number
  non2xx: number
  errors: number
  /** Send to answer, ms, of every answered request. */
  latencies: number[]
}

const TICK_MS = 2

export function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections })
  const target = new URL(options.url)
  const result: PacedLoadResult = { sent: 0, answered: 0, non2xx: 0, errors: 0, latencies: [] }
  const total = Math.round(options.rate * options.seconds)
  const start = performance.now()
  return new Promise((resolve) => {
    const settle = () => {
      if (result.answered + result.errors === total) {
        agent.destroy()
        resolve(result)
      }
    }
    const send = () => {
      const i = result.sent++
      const sentAt = performance.now()
      const payload = options.body(i)
      const req = request(target, { method: 'POST', agent, headers: { ...options.headers, 'content-length': Buffer.byteLength(payload) } }, (res) => {
        res.resume()
        res.on('end', () => {
          result.answered++
          if ((res.statusCode ?? 0) >= 300) result.non2xx++
          result.latencies.push(performance.now() - sentAt)
          settle()
        })
      })
      req.on('error', () => {
        result.errors++
        settle()
      })
      req.end(payload)
    }
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * options.rate) / 1000))
      while (result.sent < due) send()
      if (result.sent === total) clearInterval(timer)
    }, TICK_MS)
  })
}
