import type { ListedPortal } from '../../schemas/portal.ts'
import { installedPortal } from '../event/installed-portal.ts'
import { ReceiverError } from '../errors.ts'
import { loadConfig } from '../service/load-config.ts'
import { openServiceStore } from '../service/service-store.ts'
import type { Candidates, Portals, Store } from '../store/store.ts'
import type { CommandIo } from './io.ts'

class PortalsUsageError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}

const USAGE = 'usage: b24-receiver portals list [--json] | show MEMBER_ID | forget MEMBER_ID'

// A `member_id` is 32 hex digits on the wire; this is looser, and still safe to print back.
const MEMBER_ID = /^[A-Za-z0-9_.-]{1,100}$/

/**
 * `b24-receiver portals`: the portals of the application (application mode) stored under
 * `DATA_DIR`, or in the shared store at `DATABASE_URL`; the service may be running. Prints what
 * `installedPortal` shows, never a token or its hash; `list` adds the installs the OAuth server
 * has not confirmed yet (`pending`, as they name themselves). `forget` deletes a portal's row and
 * tokens, and its pending installs with their events: its events are refused until it installs
 * the application again.
 */
export async function portals(args: string[], io: CommandIo): Promise<number> {
  const [action, target, ...rest] = args
  const config = loadConfig(io.env)
  const store = openServiceStore(config)
  try {
    if (rest.length > 0) throw new PortalsUsageError(USAGE)
    switch (action) {
      case 'list':
        if (target !== undefined && target !== '--json') throw new PortalsUsageError(USAGE)
        return await list(storedPortals(store), store.candidates as Candidates, io, target === '--json')
      case 'show': {
        const memberId = memberIdOf(target)
        const row = await storedPortals(store).get(memberId)
        if (!row) throw new PortalsUsageError(`no portal ${memberId} is stored`)
        io.stdout.write(JSON.stringify(installedPortal(row), null, 2) + '\n')
        return 0
      }
      case 'forget': {
        const memberId = memberIdOf(target)
        const candidates = store.candidates as Candidates
        const pending = await candidates.of(memberId)
        for (const candidate of pending) await candidates.drop(candidate.id)
        if (!(await storedPortals(store).delete(memberId)) && pending.length === 0) throw new PortalsUsageError(`no portal ${memberId} is stored`)
        io.stdout.write(`forgot ${memberId}\n`)
        return 0
      }
      default:
        throw new PortalsUsageError(USAGE)
    }
  } finally {
    await store.close()
  }
}

/**
 * The store's portals.
 * @throws {ReceiverError} for a store that keeps none (a store of one's own without `portals`).
 */
export function storedPortals(store: Store): Portals {
  if (!store.portals) throw new ReceiverError('NO_PORTALS', 500, 'this store keeps no portals: application mode needs a store with `portals` (both built-in stores have them)')
  return store.portals
}

function memberIdOf(text: string | undefined): string {
  if (text === undefined || !MEMBER_ID.test(text)) throw new PortalsUsageError(`give a portal's member id, 1-100 letters, digits, '_', '.' or '-' (${USAGE})`)
  return text
}

// The confirmed portals by member id, then the installs waiting for the OAuth server, oldest first.
async function list(portals: Portals, candidates: Candidates, io: CommandIo, json: boolean): Promise<number> {
  const shown: ListedPortal[] = [
    ...(await portals.list()).map(installedPortal),
    ...(await candidates.list()).map(({ memberId, domain, version, expiresAt }) => ({ memberId, domain, status: 'pending' as const, version, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() })),
  ]
  if (json) {
    for (const { memberId, domain, status, expiresAt } of shown) io.stdout.write(JSON.stringify({ memberId, domain, status, expiresAt }) + '\n')
    return 0
  }
  if (shown.length === 0) io.stdout.write('no portals are stored\n')
  for (const portal of shown) io.stdout.write(`${portal.memberId}\t${portal.domain}\t${portal.status}\t${portal.expiresAt ?? '-'}\t${portal.version ?? '-'}\n`)
  return 0
}
