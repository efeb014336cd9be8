import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { userEnv } from '../serve-child.ts'
import { exec, succeeded } from './exec.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const native = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version

/**
 * `npm install` in `dir` as a user runs it, but with install scripts off: better-sqlite3 would
 * compile from source (minutes on a busy machine). It gets instead the native module this
 * repository's `npm ci` compiled (same version, same Node), which CI's `npm ci` on every Node
 * proves; it compiles here only when the versions differ. Resolves with the names of the packages
 * whose install scripts were skipped, for the caller to check that better-sqlite3's is the only one.
 */
export async function installWithoutCompiling(dir: string, packages: string[] = []): Promise<string[]> {
  succeeded(await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...packages], { cwd: dir }), 'npm install')
  const query = ':attr(scripts, [preinstall]), :attr(scripts, [install]), :attr(scripts, [postinstall])'
  const withScripts = succeeded(await exec('npm', ['query', query], { cwd: dir }), 'npm query')
  const skipped = [...new Set((JSON.parse(withScripts.stdout) as Array<{ name: string }>).map((node) => node.name))]
  if (version(dir) === version(root) && existsSync(join(root, native))) {
    mkdirSync(join(dir, native, '..'), { recursive: true })
    copyFileSync(join(root, native), join(dir, native))
  } else {
    // Against the running Node's own headers when they sit beside it: an npm config's `nodedir` may name another Node's.
    const nodeDir = join(dirname(process.execPath), '..')
    const headers: Record<string, string> = existsSync(join(nodeDir, 'include/node/node_version.h')) ? { npm_config_nodedir: nodeDir } : {}
    succeeded(await exec('npm', ['rebuild', 'better-sqlite3'], { cwd: dir, env: userEnv(headers) }), 'npm rebuild better-sqlite3')
  }
  return skipped
}
