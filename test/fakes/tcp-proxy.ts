import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

/** A TCP proxy a test stands between a client and a server, to take the server away and give it back. */
export interface TcpProxy {
  /** The loopback port clients connect to. */
  readonly port: number
  /** Connections open through the proxy now. */
  readonly connections: number
  /**
   * The server is unreachable: every connection through the proxy is destroyed (its peers see it
   * reset) and new ones are dropped as soon as they are accepted, until {@link restore}.
   */
  cut(): void
  /** Connections go through again. */
  restore(): void
  /** Stops listening and destroys what is open; twice is fine. */
  close(): Promise<void>
}

/** Listens on a free loopback port and forwards every connection to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>()
  let cut = false
  const track = (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  }
  const server = createServer((client) => {
    if (cut) return void client.destroy()
    const upstream = createConnection(target)
    track(client)
    track(upstream)
    // Either side gone (or failing) takes the other with it, as a lost network path would.
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    port,
    get connections() {
      // Two sockets per connection: the client's and the upstream one.
      return Math.ceil(open.size / 2)
    },
    cut() {
      cut = true
      for (const socket of open) socket.destroy()
    },
    restore() {
      cut = false
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      })),
  }
}
