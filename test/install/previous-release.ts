import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { builtOnce } from './built-once.ts'
import { exec, succeeded } from './exec.ts'

/**
 * The release an upgrade is tested from: main as stop 28 left it (landed, CI green), the last one
 * before the fenced PostgreSQL queue (claim tokens, batched claims and completions, REST buckets,
 * retention), and already one that writes a format version on every stored row, so that it leaves
 * alone what a newer one writes. Its package.json and lock are this one's: it runs on this
 * checkout's node_modules.
 */
export const PREVIOUS_RELEASE = '9bbd986c75e26999ff8241c8adaf0f5765e01bce'

const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * The previous release's CLI (`bin/b24-receiver.js`), built once per checkout: its sources from
 * git, compiled by this checkout's tsc against this checkout's node_modules (nothing installed,
 * better-sqlite3 not compiled again). The build is kept under node_modules/.cache, and for the
 * other Nodes of a CI run in B24_TEST_SHARED (tsc's output does not depend on the Node; their
 * copies of the tree have no git history), each running it on its own node_modules.
 * @throws when the commit is not in this clone's history (a shallow clone) or does not build.
 */
export async function previousRelease(): Promise<string> {
  const dir = join(root, 'node_modules', '.cache', 'b24-receiver', `previous-${PREVIOUS_RELEASE.slice(0, 12)}`)
  const bin = join(dir, 'bin', 'b24-receiver.js')
  if (existsSync(join(dir, 'dist', 'src', 'cli.js'))) return bin
  // Made beside, then moved into place: a build cut short is never taken for one.
  const making = `${dir}.${process.pid}`
  rmSync(making, { recursive: true, force: true })
  mkdirSync(making, { recursive: true })
  const modules = join(making, 'node_modules')
  await builtOnce(`previous-${PREVIOUS_RELEASE.slice(0, 12)}`, making, async () => {
    const archive = await exec('sh', ['-c', `git -C "$ROOT" archive --format=tar "$COMMIT" bin src routes schemas package.json tsconfig.json tsconfig.build.json | tar -x -C "$DIR"`], {
      cwd: root,
      env: { ...process.env, ROOT: root, COMMIT: PREVIOUS_RELEASE, DIR: making } as Record<string, string>,
    })
    succeeded(archive, `the previous release ${PREVIOUS_RELEASE} from git (is it in this clone's history? a shallow clone has not got it)`)
    symlinkSync(join(root, 'node_modules'), modules, 'dir')
    succeeded(await exec(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: making }), `tsc of the previous release ${PREVIOUS_RELEASE}`)
    // What is kept for the other Nodes is the release alone: each links its own node_modules.
    rmSync(modules)
  })
  symlinkSync(join(root, 'node_modules'), modules, 'dir')
  rmSync(dir, { recursive: true, force: true })
  renameSync(making, dir)
  return bin
}
