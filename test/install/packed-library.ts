import { copyFileSync, renameSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exec, succeeded } from './exec.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The library's tarball, in `dir` as `b24-receiver.tgz` (the name the examples depend on). CI
 * packs it once per run from the build of its `npm ci` and names it in `B24_TEST_TARBALL` for every
 * Node it tests; without it, it is packed here from the build `npm test` has just made (scripts
 * off: building again through `prepare` would cost a minute and prove nothing `npm ci` does not).
 */
export async function packedLibrary(dir: string): Promise<string> {
  const tarball = join(dir, 'b24-receiver.tgz')
  const given = process.env.B24_TEST_TARBALL
  if (given) {
    copyFileSync(given, tarball)
    return tarball
  }
  const packed = succeeded(await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root }), 'npm pack')
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
  renameSync(join(dir, basename(filename)), tarball)
  return tarball
}

/** The paths of the files a tarball holds, as `npm pack` lists them (no `package/` prefix). */
export async function tarballFiles(tarball: string): Promise<string[]> {
  const listed = succeeded(await exec('tar', ['-tzf', tarball], { cwd: root }), 'tar -t')
  return listed.stdout
    .split('\n')
    .filter((line) => line && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
}
