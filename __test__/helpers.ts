/**
 * Shared test helpers: fixture paths, a temp dir per test (removed in `t.teardown`), small and fast
 * training settings, and a way to edit a model file's safetensors header.
 */
import type { ExecutionContext } from 'ava'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  loadExamples,
  loadTools,
  ToolrouterError,
  Trainer,
  type Example,
  type Router,
  type ToolrouterErrorCode,
  type ToolSpec,
  type TrainerOptions,
} from '../index.js'

/** The committed fixtures folder. */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))

/** Path of a file in `__test__/fixtures`. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name)
}

/** A fresh temp dir for one test, removed when the test ends (pass or fail). */
export function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolrouter-test-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Tool names of `tools.json`, in file order. */
export const TOOL_NAMES = ['get_weather', 'play_music', 'set_timer']

/**
 * Small, fast settings: a one-layer ToolController is plenty for the separable fixture (under a
 * second). `patience` = `epochs` because the held-out share of this fixture is 4 rows: early
 * stopping on so few can keep an epoch-1 model that is still close to uniform.
 */
export const SMALL: TrainerOptions = { dModel: 32, layers: 1, heads: 2, epochs: 30, patience: 30, seed: 7 }

export interface FixtureData {
  tools: ToolSpec[]
  train: Example[]
  test: Example[]
}

let data: Promise<FixtureData> | undefined

/** `tools.json`, `train.jsonl` and `test.jsonl`, read once per test file. */
export function fixtureData(): Promise<FixtureData> {
  data ??= (async () => {
    const tools = await loadTools(fixture('tools.json'))
    const [train, test] = await Promise.all([
      loadExamples(fixture('train.jsonl'), { tools }),
      loadExamples(fixture('test.jsonl'), { tools }),
    ])
    return { tools, train, test }
  })()
  return data
}

/** Trains a router on the fixture with {@link SMALL} settings, overridden by `options`. */
export async function trainSmall(options: TrainerOptions = {}): Promise<Router> {
  const { tools, train } = await fixtureData()
  return new Trainer({ tools, ...SMALL, ...options }).fit(train)
}

let shared: Promise<Router> | undefined

/** One router trained with {@link SMALL} settings, shared by the tests of a file (routers are immutable). */
export function sharedRouter(): Promise<Router> {
  shared ??= trainSmall()
  return shared
}

/**
 * Checks what every toolrouter error promises: an `Error` and a `ToolrouterError`, named so, with
 * the expected `code` and a message that does not repeat the native `"CODE: "` prefix.
 */
export function assertToolrouterError(t: ExecutionContext, e: unknown, code: ToolrouterErrorCode): void {
  t.true(e instanceof Error, 'an Error')
  t.true(e instanceof ToolrouterError, 'a ToolrouterError')
  const err = e as ToolrouterError
  t.is(err.name, 'ToolrouterError')
  t.is(err.code, code)
  t.is(typeof err.message, 'string')
  t.true(err.message.length > 0, 'a message')
  t.false(/^[A-Z_]+: /.test(err.message), `message without a "CODE: " prefix: ${err.message}`)
}

/**
 * Rewrites the JSON header of a safetensors file (8-byte little-endian length, then JSON).
 * The new header is padded with spaces to the old length when it fits (as the format allows), so
 * the tensor data stays where it was; otherwise to the next multiple of 8, with the data moved.
 */
export function editSafetensorsHeader(file: string, edit: (header: Record<string, unknown>) => void): void {
  const bytes = fs.readFileSync(file)
  const len = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, unknown>
  edit(header)
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const newLen = json.length <= len ? len : Math.ceil(json.length / 8) * 8
  const out = Buffer.alloc(8 + newLen + (bytes.length - 8 - len), 0x20)
  out.writeBigUInt64LE(BigInt(newLen), 0)
  json.copy(out, 8)
  bytes.copy(out, 8 + newLen, 8 + len)
  fs.writeFileSync(file, out)
}

/** The `__metadata__` of a safetensors file. */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const bytes = fs.readFileSync(file)
  const len = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as { __metadata__?: Record<string, string> }
  return header.__metadata__ ?? {}
}

/**
 * Where `actual` and `expected` differ, as a path (`[3].confidence`), or null when they agree:
 * numbers to within `tol`, everything else exactly. routeBatch stacks requests in one forward
 * pass, so its sums run in another order than route()'s and confidences agree to ~1e-8, not bit
 * for bit.
 */
export function differs(actual: unknown, expected: unknown, tol = 1e-6, at = ''): string | null {
  if (typeof actual === 'number' && typeof expected === 'number') {
    return Math.abs(actual - expected) <= tol ? null : `${at}: ${actual} vs ${expected}`
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    if (actual.length !== expected.length) return `${at}: length ${actual.length} vs ${expected.length}`
    for (const [i, a] of actual.entries()) {
      const d = differs(a, expected[i], tol, `${at}[${i}]`)
      if (d !== null) return d
    }
    return null
  }
  if (actual !== null && expected !== null && typeof actual === 'object' && typeof expected === 'object') {
    const a = actual as Record<string, unknown>
    const e = expected as Record<string, unknown>
    const keys = Object.keys(a).sort()
    const ekeys = Object.keys(e).sort()
    if (keys.join() !== ekeys.join()) return `${at}: keys ${keys.join()} vs ${ekeys.join()}`
    for (const k of keys) {
      const d = differs(a[k], e[k], tol, `${at}.${k}`)
      if (d !== null) return d
    }
    return null
  }
  return Object.is(actual, expected) ? null : `${at}: ${String(actual)} vs ${String(expected)}`
}

/** Asserts that `actual` equals `expected` with numbers to within 1e-6 (see `differs`). */
export function assertClose(t: ExecutionContext, actual: unknown, expected: unknown, message = ''): void {
  const d = differs(actual, expected)
  t.is(d, null, `${message}${message ? ': ' : ''}${d ?? ''}`)
}
