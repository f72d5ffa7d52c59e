/**
 * Loads the platform's prebuilt native addon through the loader `@napi-rs/cli` generates
 * (`native.js`: a local `toolrouter.<platform>.node` first, then the `toolrouter-<platform>`
 * package that npm installed as an optional dependency). When none fits, the generated loader's
 * error lists every path it tried; this wraps it in a `ToolrouterError` with code
 * `BINARY_NOT_FOUND` that names the platform and the supported list, and says what to do.
 *
 * @example
 * ```ts
 * const native = loadBinding() // throws ToolrouterError { code: 'BINARY_NOT_FOUND' } on an unsupported platform
 * ```
 */
import type * as Native from '../native.js'
import { ToolrouterError } from './errors'

/** Platforms with a prebuilt binary package (`toolrouter-<platform>`), as `package.json`'s napi targets. */
export const SUPPORTED_PLATFORMS: readonly string[] = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]

/** This process's platform in the packages' naming: `os-arch[-abi]`, e.g. `linux-x64-gnu`. */
export function currentPlatform(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'win32') return `${base}-msvc`
  if (process.platform !== 'linux') return base
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return `${base}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
}

/** Loads `native.js`; see the module comment. */
export function loadBinding(): typeof Native {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../native.js') as typeof Native
  } catch (e) {
    const platform = currentPlatform()
    const supported = SUPPORTED_PLATFORMS.includes(platform)
    const why = supported
      ? `its binary package \`toolrouter-${platform}\` is not installed (npm skips optional dependencies ` +
        'with --omit=optional or --no-optional, and when a lock file was made on another platform): ' +
        `run \`npm install toolrouter-${platform}\`, or reinstall toolrouter without those flags.`
      : 'there is no prebuilt binary for it: build from source with a Rust toolchain ' +
        '(`npm run build` in a clone of the repository).'
    throw new ToolrouterError(
      'BINARY_NOT_FOUND',
      `toolrouter could not load its native addon on ${platform} (Node ${process.version}): ${why} ` +
        `Supported platforms: ${SUPPORTED_PLATFORMS.join(', ')}.`,
      { cause: e },
    )
  }
}
