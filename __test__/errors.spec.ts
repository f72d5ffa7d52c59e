/**
 * One test per error code: each asserts the stable `code`, that the error is a `ToolrouterError`
 * and an `Error`, and that the message names the place without the native `"CODE: "` prefix.
 * `INTERNAL` is for bugs and has no deliberate trigger in the public API.
 */
import test from 'ava'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { loadExamples, loadTools, Router, ToolrouterError, Trainer, type TrainerOptions } from '../index.js'
import {
  assertToolrouterError,
  editSafetensorsHeader,
  fixture,
  fixtureData,
  readSafetensorsMetadata,
  SMALL,
  sharedRouter,
  tempDir,
} from './helpers.ts'

/** A model saved by the shared router into this test's temp dir. */
async function savedModel(t: import('ava').ExecutionContext): Promise<string> {
  const file = path.join(tempDir(t), 'model.toolrouter')
  await (await sharedRouter()).save(file)
  return file
}

test('ToolrouterError is an Error with a code', (t) => {
  const e = new ToolrouterError('IO', 'x.json: gone')
  t.true(e instanceof Error)
  t.is(e.name, 'ToolrouterError')
  t.is(e.code, 'IO')
  t.is(e.message, 'x.json: gone')
})

// --- INVALID_ARGUMENT ---------------------------------------------------------------------------

test('INVALID_ARGUMENT: wrong argument types', async (t) => {
  const router = await sharedRouter()
  const e = t.throws(() => router.route(123 as unknown as string), { code: 'INVALID_ARGUMENT' })
  assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  t.true(e?.message.includes('`text`'), e?.message)

  t.throws(() => new Trainer(null as unknown as TrainerOptions), { code: 'INVALID_ARGUMENT' })
  for (const run of [
    () => loadTools(42 as unknown as string),
    () => loadExamples(null as unknown as string),
    () => Router.load({} as unknown as string),
    () => router.save(undefined as unknown as string),
    () => router.routeBatch('text' as unknown as string[]),
    () => router.evaluate([{ text: 'x', tool: 1 }] as never),
    () => new Trainer({ ...SMALL }).fit([]),
  ]) {
    const err = await t.throwsAsync(run, { code: 'INVALID_ARGUMENT' })
    assertToolrouterError(t, err, 'INVALID_ARGUMENT')
  }
})

test('INVALID_ARGUMENT: an unknown device', async (t) => {
  const { tools, train } = await fixtureData()
  const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL, device: 'tpu' as 'cpu' }).fit(train), {
    code: 'INVALID_ARGUMENT',
  })
  assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  t.true(e?.message.includes('tpu'), e?.message)
  const file = await savedModel(t)
  await t.throwsAsync(() => Router.load(file, { device: 'tpu' as 'cpu' }), { code: 'INVALID_ARGUMENT' })
})

test('INVALID_ARGUMENT: batchSize: 0', async (t) => {
  const { tools, train } = await fixtureData()
  const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL, batchSize: 0 }).fit(train), {
    code: 'INVALID_ARGUMENT',
  })
  assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  t.true(e?.message.includes('batchSize'), e?.message)
})

// --- DATASET_INVALID ----------------------------------------------------------------------------

test('DATASET_INVALID: invalid JSON names the file and line 3', async (t) => {
  const e = await t.throwsAsync(() => loadExamples(fixture('bad-json.jsonl')), { code: 'DATASET_INVALID' })
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.true(e?.message.includes('bad-json.jsonl'), e?.message)
  t.true(e?.message.includes(':3:'), e?.message)
})

test('DATASET_INVALID: a line without text names line 2 and the field', async (t) => {
  const e = await t.throwsAsync(() => loadExamples(fixture('missing-text.jsonl')), { code: 'DATASET_INVALID' })
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.true(e?.message.includes('missing-text.jsonl'), e?.message)
  t.true(e?.message.includes(':2:'), e?.message)
  t.true(e?.message.includes('text'), e?.message)
})

test('DATASET_INVALID: a tool missing from the tools names it', async (t) => {
  const tools = await loadTools(fixture('tools.json'))
  const e = await t.throwsAsync(() => loadExamples(fixture('unknown-tool.jsonl'), { tools }), {
    code: 'DATASET_INVALID',
  })
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.true(e?.message.includes('unknown-tool.jsonl'), e?.message)
  t.true(e?.message.includes(':2:'), e?.message)
  t.true(e?.message.includes('send_email'), e?.message)
  // Without tools to check against, the same file loads.
  const examples = await loadExamples(fixture('unknown-tool.jsonl'))
  t.deepEqual(
    examples.map((x) => x.tool),
    ['play_music', 'send_email'],
  )
})

test('DATASET_INVALID: an empty file', async (t) => {
  const e = await t.throwsAsync(() => loadExamples(fixture('empty.jsonl')), { code: 'DATASET_INVALID' })
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.true(e?.message.includes('empty.jsonl'), e?.message)
  t.true(e?.message.includes('empty'), e?.message)
})

test('the good fixtures load', async (t) => {
  const { tools, train, test: examples } = await fixtureData()
  t.is(tools.length, 3)
  t.true(train.length >= 30)
  t.true(train.some((x) => x.tool === null))
  t.true(examples.length >= 10)
  t.deepEqual(train[0], {
    text: "what's the weather in Oslo",
    tool: 'get_weather',
    args: { city: 'Oslo' },
    spans: [{ name: 'city', start: 22, end: 26 }],
  })
  t.deepEqual(train.at(-1)?.args, {}, 'args default to {}')
  t.deepEqual(train.at(-1)?.spans, [], 'spans default to []')
})

// --- TOOLS_INVALID ------------------------------------------------------------------------------

test('TOOLS_INVALID: duplicate tool names', async (t) => {
  const e = await t.throwsAsync(() => loadTools(fixture('bad-tools.json')), { code: 'TOOLS_INVALID' })
  assertToolrouterError(t, e, 'TOOLS_INVALID')
  t.true(e?.message.includes('bad-tools.json'), e?.message)
  t.true(e?.message.includes('duplicate'), e?.message)
  t.true(e?.message.includes('get_weather'), e?.message)
})

test('TOOLS_INVALID: a file that is not JSON', async (t) => {
  const e = await t.throwsAsync(() => loadTools(fixture('not-json-tools.json')), { code: 'TOOLS_INVALID' })
  assertToolrouterError(t, e, 'TOOLS_INVALID')
  t.true(e?.message.includes('not-json-tools.json'), e?.message)
})

test('TOOLS_INVALID: an examples file is not a tools file', async (t) => {
  await t.throwsAsync(() => loadTools(fixture('train.jsonl')), { code: 'TOOLS_INVALID' })
  await t.throwsAsync(() => loadTools(fixture('empty.jsonl')), { code: 'TOOLS_INVALID' })
})

// --- MODEL_NOT_FOUND ----------------------------------------------------------------------------

test('MODEL_NOT_FOUND: a missing path', async (t) => {
  const file = path.join(tempDir(t), 'nope.toolrouter')
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_NOT_FOUND' })
  assertToolrouterError(t, e, 'MODEL_NOT_FOUND')
  t.true(e?.message.includes(file), e?.message)
})

// --- MODEL_INVALID ------------------------------------------------------------------------------

test('MODEL_INVALID: random bytes', async (t) => {
  const file = path.join(tempDir(t), 'random.toolrouter')
  fs.writeFileSync(file, crypto.randomBytes(4096))
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_INVALID' })
  assertToolrouterError(t, e, 'MODEL_INVALID')
  t.true(e?.message.includes('random.toolrouter'), e?.message)
})

test('MODEL_INVALID: an empty file', async (t) => {
  const file = path.join(tempDir(t), 'empty.toolrouter')
  fs.writeFileSync(file, '')
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_INVALID' })
  assertToolrouterError(t, e, 'MODEL_INVALID')
})

test('MODEL_INVALID: a model truncated to half its size', async (t) => {
  const file = await savedModel(t)
  const bytes = fs.readFileSync(file)
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)))
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_INVALID' })
  assertToolrouterError(t, e, 'MODEL_INVALID')
})

test('MODEL_INVALID: a JSON file, and a safetensors file that is not a toolrouter model', async (t) => {
  await t.throwsAsync(() => Router.load(fixture('tools.json')), { code: 'MODEL_INVALID' })
  const file = await savedModel(t)
  editSafetensorsHeader(file, (h) => {
    ;(h.__metadata__ as Record<string, string>).format = 'something-else'
  })
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_INVALID' })
  t.true(e?.message.includes('format'), e?.message)
})

// --- MODEL_VERSION ------------------------------------------------------------------------------

test('MODEL_VERSION: a model from a newer format version', async (t) => {
  const file = await savedModel(t)
  // The default model starts from the pretrained table: the compact layout, version 2.
  t.is(readSafetensorsMetadata(file).format_version, '2')
  const size = fs.statSync(file).size

  // Control: rewriting the header unchanged keeps a loadable model.
  editSafetensorsHeader(file, () => {})
  t.is(fs.statSync(file).size, size)
  await t.notThrowsAsync(() => Router.load(file))

  editSafetensorsHeader(file, (h) => {
    ;(h.__metadata__ as Record<string, string>).format_version = '999'
  })
  t.is(readSafetensorsMetadata(file).format_version, '999')
  const e = await t.throwsAsync(() => Router.load(file), { code: 'MODEL_VERSION' })
  assertToolrouterError(t, e, 'MODEL_VERSION')
  t.true(e?.message.includes('999'), e?.message)
})

// --- IO -----------------------------------------------------------------------------------------

test('IO: missing input files and an unwritable save path', async (t) => {
  const dir = tempDir(t)
  for (const run of [
    () => loadTools(path.join(dir, 'missing-tools.json')),
    () => loadExamples(path.join(dir, 'missing.jsonl')),
    () => loadExamples(dir),
  ]) {
    const e = await t.throwsAsync(run, { code: 'IO' })
    assertToolrouterError(t, e, 'IO')
  }
  const router = await sharedRouter()
  const target = path.join(dir, 'no', 'such', 'dir', 'model.toolrouter')
  const e = await t.throwsAsync(() => router.save(target), { code: 'IO' })
  assertToolrouterError(t, e, 'IO')
  t.deepEqual(fs.readdirSync(dir), [], 'nothing left behind')
})

// --- ABORTED ------------------------------------------------------------------------------------

test('ABORTED: fit and routeBatch with an aborted signal', async (t) => {
  const { tools, train } = await fixtureData()
  const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL }).fit(train, { signal: AbortSignal.abort() }), {
    code: 'ABORTED',
  })
  assertToolrouterError(t, e, 'ABORTED')
  const router = await sharedRouter()
  const b = await t.throwsAsync(() => router.routeBatch(['play some music'], { signal: AbortSignal.abort() }), {
    code: 'ABORTED',
  })
  assertToolrouterError(t, b, 'ABORTED')
})

// --- DEVICE_UNAVAILABLE -------------------------------------------------------------------------

test('DEVICE_UNAVAILABLE: cuda and metal on a CPU build', async (t) => {
  const { tools, train } = await fixtureData()
  for (const device of ['cuda', 'metal'] as const) {
    const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL, device }).fit(train), {
      code: 'DEVICE_UNAVAILABLE',
    })
    assertToolrouterError(t, e, 'DEVICE_UNAVAILABLE')
    t.true(e?.message.includes(device), e?.message)
  }
  const file = await savedModel(t)
  const e = await t.throwsAsync(() => Router.load(file, { device: 'cuda' }), { code: 'DEVICE_UNAVAILABLE' })
  assertToolrouterError(t, e, 'DEVICE_UNAVAILABLE')
})
