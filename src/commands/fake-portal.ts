import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { fakePortalApp } from '../fake-portal/fake-portal-app.ts'
import { FakePortals } from '../fake-portal/fake-portals.ts'
import { BadArgumentsError } from '../errors.ts'
import type { CommandIo } from './io.ts'
import { untilStopped } from './until-stopped.ts'

/**
 * The application the fake portals install: `serve` trusts their installs only with these in
 * `B24_CLIENT_ID` and `B24_CLIENT_SECRET`. Fixed, so that the README's commands work as written;
 * no real OAuth server knows them.
 */
export const FAKE_CLIENT_ID = 'local.fakeportal0000.00000000'
export const FAKE_CLIENT_SECRET = 'fake-portal-client-secret'
/** Where it listens unless `--port` says otherwise (on 127.0.0.1 only). */
export const FAKE_PORTAL_PORT = 3101

/**
 * `b24-receiver fake-portal [--port N]`, a development tool for trying application mode on one
 * machine: Bitrix24 portals and their OAuth server, in memory, on 127.0.0.1 only. `serve` is
 * pointed at it with `B24_OAUTH_URL` and confirms installs through it as it would through
 * Bitrix24's; `simulate --fake-portal` gets the events its portals post. Prints how to use it,
 * then one line per request; runs until SIGINT or SIGTERM. What it issued goes with it.
 */
export async function fakePortal(args: string[], io: CommandIo): Promise<number> {
  let given: string | undefined
  try {
    given = parseArgs({ args, options: { port: { type: 'string' } } }).values.port
  } catch (error) {
    throw new BadArgumentsError((error as Error).message)
  }
  const port = given === undefined ? FAKE_PORTAL_PORT : Number(given)
  if (given !== undefined && (!/^[0-9]{1,5}$/.test(given) || port > 65535)) throw new BadArgumentsError('--port takes a port number, 0 to 65535')
  let url = ''
  const portals = new FakePortals({ clientId: FAKE_CLIENT_ID, clientSecret: FAKE_CLIENT_SECRET, url: () => url })
  const app = fakePortalApp({ portals, onCall: (line) => io.stdout.write(`${line}\n`) })
  try {
    await app.listen({ port, host: '127.0.0.1' })
  } catch (error) {
    await app.close()
    throw new BadArgumentsError(`cannot listen on 127.0.0.1:${port} (${(error as NodeJS.ErrnoException).code}): pass another --port`)
  }
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  io.stdout.write(
    [
      `b24-receiver fake-portal: stand-in Bitrix24 portals and their OAuth server on ${url}`,
      'A development tool for trying application mode on this machine: never point a production service at it.',
      'Run the service against it, in another terminal:',
      `  B24_CLIENT_ID=${FAKE_CLIENT_ID} B24_CLIENT_SECRET=${FAKE_CLIENT_SECRET} B24_OAUTH_URL=${url} EXAMPLE_BOT=true npx b24-receiver serve`,
      'then post a portal’s events to the service, in a third:',
      `  npx b24-receiver simulate ONAPPINSTALL --fake-portal ${url}`,
      `  npx b24-receiver simulate ONIMBOTV2MESSAGEADD --fake-portal ${url} --text hi`,
      `  npx b24-receiver simulate ONAPPUNINSTALL --fake-portal ${url}`,
      'One line per request below. Ctrl-C stops it; what it issued is forgotten.',
      '',
    ].join('\n'),
  )
  await untilStopped(() => app.close())
  return 0
}
