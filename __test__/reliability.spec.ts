/**
 * Reliability, as the README's "Guarantees" section promises it: hostile requests and files,
 * models cut short, saves killed half-way, concurrent use from the thread pool and from worker
 * threads, panics. The slow checks (a million routes with resident memory measured, a
 * million-line JSONL, 100 000 tools) are `npm run soak` (scripts/soak.js).
 */
import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { loadExamples, loadTools, Router, ToolrouterError, Trainer, type Route, type TrainerOptions } from '../index.js'
import { assertClose, assertToolrouterError, fixtureData, sharedRouter, tempDir, TOOL_NAMES, trainSmall } from './helpers.ts'

const require = createRequire(import.meta.url)
const INDEX = fileURLToPath(new URL('../index.js', import.meta.url))
/** The generated binding, for its test hooks only (the public API never exposes it). */
const native = require('../native.js') as { __panicForTest(): void; __panicOnPoolForTest(): Promise<void> }

/** A model of a few kilobytes (no n-gram table, tiny widths): small enough to cut at every byte. */
const TINY: TrainerOptions = {
  dModel: 8,
  layers: 1,
  heads: 2,
  maxTokens: 16,
  vocabSize: 64,
  // Its own 64-token vocabulary, not the 30k-token pretrained table: the file stays a few kilobytes.
  pretrained: 'none',
  ngrams: false,
  epochs: 3,
  patience: 3,
  seed: 3,
}

let tiny: Promise<Router> | undefined
function tinyRouter(): Promise<Router> {
  tiny ??= trainSmall(TINY)
  return tiny
}

const MB = 1024 * 1024

/** Fills `unit` up to `bytes` UTF-8 bytes. */
function fill(unit: string, bytes: number): string {
  return unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)))
}

/** Requests that must come back as a `Route`, never as an exception or a crash. */
const HOSTILE: [string, string][] = [
  ['empty', ''],
  ['whitespace only', ' \t\n\r\u00a0\u3000\u2028'],
  ['a NUL byte', '\0'],
  ['NUL bytes inside a request', 'weather\0in\0oslo\0'],
  ['control characters and an ANSI escape', '\u0001\u0007\u001b[31mred\u007f\u0085'],
  ['a lone high surrogate', '\uD800'],
  ['a lone low surrogate inside a request', 'play \uDC00 some music'],
  ['surrogates in the wrong order', '\uDE00\uD83D timer'],
  ['emoji: ZWJ sequences, flags, skin tones, keycaps', '🌧️☔ 👩🏽‍💻 🇳🇴 1️⃣ 🏳️‍🌈 set a ⏱️ for 5 min'],
  ['Arabic (right to left)', 'ما هو الطقس في القاهرة غدا'],
  ['Hebrew with bidi overrides', '\u202Eמה מזג האוויר בתל אביב\u202C\u200F'],
  ['mixed scripts', 'play музыку 音乐 🎵 موسيقى weather'],
  ['10 000 combining marks on one letter', 'e' + '\u0301'.repeat(10_000)],
  ['zero-width characters', '\u200b\u200c\u200d\ufeff'.repeat(256)],
  ['noncharacters and the last code point', '\uFFFE\uFFFF\u{10FFFF} weather'],
  ['1 MB of ASCII requests', fill('set a timer for ten minutes ', MB)],
  ['1 MB in one word', 'x'.repeat(MB)],
  ['1 MB of non-ASCII text', fill('wetter in zürich 你好 🌧️ ', MB)],
  ['1 MB of spaces, then a request', ' '.repeat(MB) + 'weather in oslo'],
  ['1 MB of punctuation', '?!.,'.repeat(MB / 4)],
]

const REASONS = ['confident', 'low_confidence', 'out_of_scope']

/** What every Route promises, whatever the text. */
function assertRoute(t: ExecutionContext, r: Route, text: string, what: string): void {
  t.true(r.tool === null || TOOL_NAMES.includes(r.tool), `${what}: tool ${String(r.tool)}`)
  t.true(Number.isFinite(r.confidence) && r.confidence >= 0 && r.confidence <= 1, `${what}: confidence ${r.confidence}`)
  t.true(REASONS.includes(r.reason), `${what}: reason ${r.reason}`)
  t.is(r.abstained, r.tool === null, what)
  for (const a of r.alternatives) {
    t.true(TOOL_NAMES.includes(a.tool) && a.confidence >= 0 && a.confidence <= 1, `${what}: alternative ${a.tool}`)
  }
  const length = [...text].length
  for (const s of r.spans) {
    t.true(s.start >= 0 && s.start < s.end && s.end <= length, `${what}: span ${JSON.stringify(s)} of ${length}`)
    t.true(s.name in r.args, `${what}: span ${s.name} has an argument`)
  }
  if (r.complete) t.true(r.tool !== null && r.missing.length === 0 && r.invalid.length === 0, what)
}

// --- hostile requests ---------------------------------------------------------------------------

test('route() returns a Route for hostile text: empty, NUL, lone surrogates, emoji, RTL, 1 MB', async (t) => {
  const router = await sharedRouter()
  for (const [what, text] of HOSTILE) {
    const r = router.route(text)
    assertRoute(t, r, text, what)
    t.deepEqual(router.route(text), r, `${what}: the same answer twice`)
  }
  const batch = await router.routeBatch(HOSTILE.map(([, text]) => text))
  assertClose(
    t,
    batch,
    HOSTILE.map(([, text]) => router.route(text)),
    'routeBatch agrees with route',
  )
})

test('a request longer than maxTokens is truncated for the transformer: arguments come from its start', async (t) => {
  const router = await sharedRouter()
  const maxTokens = router.config.max_tokens
  const head = 'will it rain in Madrid on Sunday'
  const long = head + fill(' and then more words', MB)
  const r = router.route(long)
  assertRoute(t, r, long, '1 MB request')
  // Each word is at least one token: nothing after the first maxTokens words can be an argument.
  const limit = long.split(' ').slice(0, maxTokens).join(' ').length
  for (const s of r.spans) t.true(s.end <= limit, `span ${JSON.stringify(s)} within the first ${maxTokens} words`)
})

test('only misuse throws: a text that is not a string, a threshold out of range', async (t) => {
  const router = await sharedRouter()
  for (const bad of [undefined, null, 42, {}, ['x'], Buffer.from('x')]) {
    const e = t.throws(() => router.route(bad as unknown as string))
    assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  }
  for (const threshold of [NaN, -0.1, 1.5, Infinity]) {
    t.throws(() => router.route('x', { threshold }), { code: 'INVALID_ARGUMENT' })
  }
  await t.throwsAsync(() => router.routeBatch(['ok', 5 as unknown as string]), { code: 'INVALID_ARGUMENT' })
})

// --- hostile files ------------------------------------------------------------------------------

test('tools.json with 100 000 tools loads; one duplicate name among them is TOOLS_INVALID naming it', async (t) => {
  const dir = tempDir(t)
  const tools = Array.from({ length: 100_000 }, (_, i) => ({
    name: `tool_${i}`,
    description: `Tool number ${i}`,
    parameters: { type: 'object', properties: { x: { type: 'integer' } } },
  }))
  const file = path.join(dir, 'tools.json')
  fs.writeFileSync(file, JSON.stringify(tools))
  const loaded = await loadTools(file)
  t.is(loaded.length, 100_000)
  t.is(loaded[99_999].name, 'tool_99999')
  tools.push({ ...tools[12_345] })
  fs.writeFileSync(file, JSON.stringify(tools))
  const e = await t.throwsAsync(() => loadTools(file), { code: 'TOOLS_INVALID' })
  t.true(e?.message.includes('tools[100000]: duplicate tool name `tool_12345`'), e?.message)
  // In memory, the same check.
  await t.throwsAsync(
    async () => new Trainer({ ...TINY, tools: [{ name: 'a' }, { name: 'a' }] }).fit([{ text: 'x', tool: 'a' }]),
    { code: 'INVALID_ARGUMENT' },
  )
})

test('a schema that is not valid JSON Schema is kept, and routing still returns Routes', async (t) => {
  const dir = tempDir(t)
  const weird = [
    { name: 'get_weather', parameters: { type: 5, required: 'city', properties: { city: { type: 'nonsense' } } } },
    { name: 'play_music', parameters: { properties: { genre: { enum: 3 }, n: { type: ['integer', 7] } }, $ref: '#/nope' } },
    { name: 'set_timer', parameters: { type: 'object', properties: { minutes: { minimum: 'x', pattern: '([' } } } },
  ]
  const file = path.join(dir, 'tools.json')
  fs.writeFileSync(file, JSON.stringify(weird))
  const tools = await loadTools(file)
  t.deepEqual(
    tools.map((x) => x.name),
    TOOL_NAMES,
  )
  const { train } = await fixtureData()
  const router = await new Trainer({ ...TINY, tools }).fit(train)
  for (const [what, text] of [...HOSTILE.slice(0, 12), ['weather', 'weather in oslo'] as [string, string]]) {
    assertRoute(t, router.route(text), text, what)
  }
  // What is not an object at all is refused.
  fs.writeFileSync(file, JSON.stringify([{ name: 'a', parameters: 'a string' }]))
  await t.throwsAsync(() => loadTools(file), { code: 'TOOLS_INVALID' })
})

test('JSONL: a byte order mark, CRLF, blank lines and escaped NULs load; bad UTF-8 is DATASET_INVALID at its line', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'x.jsonl')
  const lines = [
    '{"text":"weather in oslo","tool":"get_weather"}',
    '',
    '   ',
    '{"text":"nul \\u0000 inside, emoji 🎵","tool":"play_music"}',
    '{"text":"","tool":null}',
  ]
  fs.writeFileSync(file, '\uFEFF' + lines.join('\r\n') + '\r\n')
  const ex = await loadExamples(file)
  t.is(ex.length, 3)
  t.is(ex[0].text, 'weather in oslo')
  t.true(ex[1].text.includes('\0'))
  fs.writeFileSync(file, Buffer.concat([Buffer.from(lines[0] + '\n'), Buffer.from('{"text":"\xff","tool":null}\n', 'latin1')]))
  const e = await t.throwsAsync(() => loadExamples(file), { code: 'DATASET_INVALID' })
  t.true(e?.message.includes('x.jsonl:2:'), e?.message)
  // A lone surrogate escape (JSON.stringify writes them) is not Unicode: refused, with its line.
  fs.writeFileSync(file, lines[0] + '\n' + JSON.stringify({ text: 'lone \uD800', tool: null }) + '\n')
  const lone = await t.throwsAsync(() => loadExamples(file), { code: 'DATASET_INVALID' })
  t.true(lone?.message.includes('x.jsonl:2:'), lone?.message)
})

test('a model file cut at any byte fails to load with MODEL_INVALID', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'tiny.toolrouter')
  await (await tinyRouter()).save(file)
  const bytes = fs.readFileSync(file)
  t.log(`model file: ${bytes.length} bytes, cut at each of them`)
  const cut = path.join(dir, 'cut.toolrouter')
  let refused = 0
  for (let n = 0; n < bytes.length; n++) {
    fs.writeFileSync(cut, bytes.subarray(0, n))
    const e = await Router.load(cut).then(
      () => undefined,
      (err: unknown) => err,
    )
    if (e instanceof ToolrouterError && e.code === 'MODEL_INVALID') refused++
    else t.fail(`cut at ${n} of ${bytes.length}: ${e === undefined ? 'loaded' : String(e)}`)
  }
  t.is(refused, bytes.length)
  await t.notThrowsAsync(() => Router.load(file))
})

const PROBES = ['what is the weather in Bergen', 'play songs by Nina Simone', 'set a timer for 9 minutes', 'tell me a joke']

/** Which of `candidates` routes the probes exactly as `r` does. */
function whichRouter(r: Router, candidates: Router[]): number {
  const key = (x: Router) => JSON.stringify(PROBES.map((p) => x.route(p)))
  return candidates.map(key).indexOf(key(r))
}

test('saving over a model file while it is in use is safe', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'model.toolrouter')
  const [a, b] = [await sharedRouter(), await tinyRouter()]
  await a.save(file)
  const inUse = await Router.load(file)
  const texts = Array.from({ length: 300 }, (_, i) => `${PROBES[i % PROBES.length]} ${i}`)
  const expected = texts.map((x) => inUse.route(x))
  const [batches, , loads] = await Promise.all([
    Promise.all(Array.from({ length: 8 }, () => inUse.routeBatch(texts, { threads: 2 }))),
    Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).save(file))),
    Promise.all(Array.from({ length: 12 }, () => Router.load(file))),
  ])
  for (const batch of batches) assertClose(t, batch, expected, 'the router in use is unaffected')
  for (const l of loads) t.not(whichRouter(l, [a, b]), -1, 'every load during the saves is one whole model')
  t.not(whichRouter(await Router.load(file), [a, b]), -1)
  t.deepEqual(fs.readdirSync(dir), ['model.toolrouter'], 'no temporary file is left')
})

test('a process killed while saving leaves the old model or the new one, never a broken file', async (t) => {
  const dir = tempDir(t)
  const [oldModel, newModel] = [await tinyRouter(), await sharedRouter()]
  const target = path.join(dir, 'model.toolrouter')
  const source = path.join(dir, 'new.toolrouter')
  await newModel.save(source)
  t.log(`saving ${fs.statSync(source).size} bytes in a loop`)
  const child = `
    const { Router } = require(${JSON.stringify(INDEX)})
    Router.load(${JSON.stringify(source)}).then(async (r) => {
      process.stdout.write('ready\\n')
      for (;;) { await r.save(${JSON.stringify(target)}); process.stdout.write('saved\\n') }
    })`
  const delays = [0, 1, 2, 3, 5, 8, 13, 21, 34]
  const seen = new Set<number>()
  for (const delay of delays) {
    await oldModel.save(target)
    const proc = spawn(process.execPath, ['-e', child], { stdio: ['ignore', 'pipe', 'inherit'] })
    let saves = 0
    await new Promise<void>((resolve, reject) => {
      let ready = false
      proc.stdout.on('data', (chunk: Buffer) => {
        saves += (chunk.toString().match(/saved/g) ?? []).length
        if (!ready && chunk.toString().includes('ready')) {
          ready = true
          setTimeout(() => {
            proc.kill('SIGKILL')
          }, delay)
        }
      })
      proc.on('exit', () => resolve())
      proc.on('error', reject)
    })
    const loaded = await Router.load(target)
    const which = whichRouter(loaded, [oldModel, newModel])
    t.not(which, -1, `killed ${delay} ms after starting to save (${saves} saves done): the file is one whole model`)
    seen.add(which)
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f)) // a killed save may leave its temporary file
    await newModel.save(source)
  }
  t.log(`after the kills the file held: ${[...seen].map((w) => ['the old model', 'the new model'][w]).join(', ')}`)
})

// --- concurrency --------------------------------------------------------------------------------

test('routeBatch in parallel with training and with loading another model gives the sequential results', async (t) => {
  const dir = tempDir(t)
  const router = await sharedRouter()
  const other = await tinyRouter()
  const otherFile = path.join(dir, 'other.toolrouter')
  await other.save(otherFile)
  const texts = Array.from({ length: 400 }, (_, i) => `${PROBES[i % PROBES.length]} #${i}`).concat(
    HOSTILE.slice(0, 15).map(([, x]) => x),
  )
  const expected = texts.map((x) => router.route(x))
  const otherExpected = texts.slice(0, 50).map((x) => other.route(x))
  const results = await Promise.all([
    ...Array.from({ length: 12 }, (_, i) => router.routeBatch(texts, { threads: 1 + (i % 3) })),
    trainSmall({ seed: 11 }),
    ...Array.from({ length: 4 }, () => Router.load(otherFile)),
  ])
  const batches = results.slice(0, 12) as Route[][]
  for (const batch of batches) assertClose(t, batch, expected)
  const trained = results[12] as Router
  const loaded = results.slice(13) as Router[]
  for (const l of loaded)
    t.deepEqual(
      texts.slice(0, 50).map((x) => l.route(x)),
      otherExpected,
    )
  const sequential = await trainSmall({ seed: 11 })
  t.deepEqual(
    PROBES.map((p) => trained.route(p)),
    PROBES.map((p) => sequential.route(p)),
    'training beside routing gives the model it gives alone',
  )
})

test('worker threads load the same model file and route as the main thread does', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'model.toolrouter')
  await (await sharedRouter()).save(file)
  const main = await Router.load(file)
  const texts = [...PROBES, ...HOSTILE.slice(0, 15).map(([, x]) => x)]
  const expected = texts.map((x) => main.route(x))
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Router } = require(workerData.index)
    Router.load(workerData.file).then(async (r) => {
      const one = workerData.texts.map((x) => r.route(x))
      const batch = await r.routeBatch(workerData.texts, { threads: 2 })
      parentPort.postMessage({ one, batch })
    }, (e) => parentPort.postMessage({ error: String(e) }))`
  const run = () =>
    new Promise<{ one: Route[]; batch: Route[]; error?: string }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { index: INDEX, file, texts } })
      w.once('message', (m: { one: Route[]; batch: Route[] }) => {
        resolve(m)
        void w.terminate()
      })
      w.once('error', reject)
    })
  const results = await Promise.all(Array.from({ length: 4 }, run))
  for (const r of results) {
    t.is(r.error, undefined)
    t.deepEqual(r.one, expected)
    assertClose(t, r.batch, expected)
  }
  // A worker terminated in the middle of a batch takes nothing down with it.
  const w = new Worker(code, { eval: true, workerData: { index: INDEX, file, texts: Array(20_000).fill(PROBES[0]) } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  await w.terminate()
  t.deepEqual(
    texts.map((x) => main.route(x)),
    expected,
  )
})

// --- panics -------------------------------------------------------------------------------------

test('a Rust panic reaches JS as an INTERNAL error, on the JS thread and on the pool, and Node goes on', async (t) => {
  const sync = t.throws(() => native.__panicForTest())
  t.true(sync?.message.startsWith('INTERNAL: '), sync?.message)
  t.true(sync?.message.includes('deliberate panic'), sync?.message)
  const pooled = await t.throwsAsync(() => native.__panicOnPoolForTest())
  t.true(pooled?.message.startsWith('INTERNAL: '), pooled?.message)
  // Routing still works after both.
  const router = await sharedRouter()
  t.is(router.route('set a timer for 9 minutes').tool, 'set_timer')
})
