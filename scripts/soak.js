// The slow reliability checks, with resident memory measured and bounds asserted (the fast ones
// are __test__/reliability.spec.ts). `npm run soak`; exits 1 when a bound is not met.
//
//   1. route() a million requests (hostile ones among them) in one process: resident memory
//      after warm-up stays flat; every route is well formed.
//   2. save and load a model a few hundred times: no memory kept per cycle.
//   3. a JSONL file of a million lines: read as a stream (a million blank lines and one example
//      cost no memory), and a million examples load with memory bounded per example.
//   4. tools.json with 100 000 tools.
//
// SOAK_ROUTES=n changes the number of routes (default 1 000 000). Memory is read from
// /proc/self/status (VmRSS, and VmHWM for peaks, reset through /proc/self/clear_refs) on Linux,
// from process.memoryUsage() elsewhere; run with --expose-gc (the npm script does) so the JS
// heap is collected before each reading and what is left is what the native side keeps.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { loadExamples, loadTools, Router, Trainer } = require('../index.js')

const MB = 1024 * 1024
const ROUTES = Number(process.env.SOAK_ROUTES || 1_000_000)
const root = path.join(__dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toolrouter-soak-'))
const failures = []

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${what}`)
  if (!ok) failures.push(what)
}

function status(field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))
    if (m) return Number(m[1]) / 1024
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / MB
}

/** Resident memory in MB, after a full garbage collection of the JS heap. */
function rss() {
  if (global.gc) {
    global.gc()
    global.gc()
  }
  return status('VmRSS')
}

/** Resets the peak resident memory (Linux) and returns the current figure. */
function resetPeak() {
  const now = rss()
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
  } catch {
    // not Linux: the peak is the current figure at the end
  }
  return now
}

const peak = () => status('VmHWM')
const mb = (x) => `${x.toFixed(1)} MB`

const HOSTILE = [
  '',
  '\0',
  'weather\0in\0oslo',
  '\uD800 lone surrogate',
  '🌧️☔ 👩🏽‍💻 🇳🇴 set a ⏱️',
  'ما هو الطقس في القاهرة',
  '\u202Eמה מזג האוויר\u202C',
  'e' + '\u0301'.repeat(200),
  'x'.repeat(20_000),
]

function wellFormed(r, tools) {
  return (
    (r.tool === null || tools.has(r.tool)) &&
    Number.isFinite(r.confidence) &&
    r.confidence >= 0 &&
    r.confidence <= 1 &&
    r.abstained === (r.tool === null)
  )
}

async function main() {
  const started = Date.now()
  console.log(`toolrouter soak: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`)
  if (!global.gc) console.log('(no --expose-gc: memory figures include uncollected JS garbage)')

  // --- 1. a million routes --------------------------------------------------------------------
  const tools = await loadTools(path.join(root, 'data/demo/tools.json'))
  const train = await loadExamples(path.join(root, 'data/demo/train.jsonl'), { tools })
  const test = await loadExamples(path.join(root, 'data/demo/test.jsonl'), { tools })
  let t0 = Date.now()
  const router = await new Trainer({ tools, seed: 1 }).fit(train)
  console.log(`trained the demo model in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const names = new Set(tools.map((t) => t.name))
  const texts = [...test.map((e) => e.text), ...HOSTILE]
  const request = (i) => `${texts[i % texts.length]} ${i % 7 === 0 ? i : ''}`

  let bad = 0
  /** Routes requests [from, to): nine in ten one by one, the rest through routeBatch (the pool). */
  const run = async (from, to) => {
    const batched = Math.floor((to - from) / 10)
    let i = from
    for (; i < to - batched; i++) if (!wellFormed(router.route(request(i)), names)) bad++
    while (i < to) {
      const n = Math.min(1000, to - i)
      const batch = await router.routeBatch(Array.from({ length: n }, (_, k) => request(i + k)))
      for (const r of batch) if (!wellFormed(r, names)) bad++
      i += n
    }
  }
  // Warm-up with the same mix: the pool's threads, their allocator arenas and per-thread
  // scratch buffers exist after it.
  const warm = 200_000
  await run(0, warm)
  const base = rss()
  const samples = []
  const heaps = []
  t0 = Date.now()
  const every = Math.max(1, Math.floor(ROUTES / 10))
  for (let i = 0; i < ROUTES; i += every) {
    await run(warm + i, warm + Math.min(ROUTES, i + every))
    samples.push(rss())
    heaps.push(process.memoryUsage().heapTotal / MB)
  }
  const secs = (Date.now() - t0) / 1000
  const top = Math.max(...samples)
  console.log(
    `${ROUTES} routes in ${secs.toFixed(1)} s (${Math.round(ROUTES / secs)}/s); resident memory after ${warm} warm-up routes ${mb(base)}, ` +
      `every ${every}: ${samples.map((s) => s.toFixed(0)).join(' ')} MB (of which the JS heap ${heaps.map((h) => h.toFixed(0)).join(' ')} MB)`,
  )
  check(bad === 0, `every route well formed (${bad} not)`)
  check(top - base < 32, `resident memory flat over ${ROUTES} routes: at most ${mb(top - base)} above the start (bound 32 MB)`)
  const drift = samples[samples.length - 1] - samples[Math.floor(samples.length / 2)]
  check(drift < 8, `no growth in the second half: ${mb(drift)} (bound 8 MB, 16 bytes a route)`)

  // --- 2. save and load churn -----------------------------------------------------------------
  const file = path.join(tmp, 'demo.toolrouter')
  await router.save(file)
  const size = fs.statSync(file).size / MB
  const cycle = async () => {
    await router.save(file)
    const r = await Router.load(file)
    return r.route(texts[0]).tool
  }
  for (let i = 0; i < 20; i++) await cycle()
  // Sampled every 50 cycles: the allocator's arenas on the pool threads settle in the first
  // ones; a leak would keep growing through the second half.
  const cycles = 400
  const first = router.route(texts[0]).tool
  const churn = [rss()]
  let same = 0
  for (let i = 1; i <= cycles; i++) {
    if ((await cycle()) === first) same++
    if (i % 50 === 0) {
      // Let the finalizers of the routers the last collection freed run before reading.
      rss()
      await new Promise((resolve) => setImmediate(resolve))
      churn.push(rss())
    }
  }
  const late = churn[churn.length - 1] - churn[Math.floor(churn.length / 2)]
  console.log(
    `${cycles} save + load cycles of a ${mb(size)} model: resident memory every 50: ${churn.map((s) => s.toFixed(0)).join(' ')} MB`,
  )
  check(same === cycles, `every reloaded model routes as the original (${same}/${cycles})`)
  // A leak of a tenth of a model per cycle would be 20 models here; the bound is 4 (routers
  // whose native finalizers have not run yet, allocator arenas of the pool threads).
  check(late < 4 * size, `no memory kept per save/load cycle: ${mb(late)} over the last ${cycles / 2} (bound ${mb(4 * size)}, 4 models)`)

  // --- 3. a million-line JSONL ----------------------------------------------------------------
  const lines = 1_000_000
  const blank = path.join(tmp, 'blank.jsonl')
  {
    const fd = fs.openSync(blank, 'w')
    const chunk = (' '.repeat(63) + '\n').repeat(10_000)
    for (let i = 0; i < lines / 10_000; i++) fs.writeSync(fd, chunk)
    fs.writeSync(fd, '{"text":"weather in oslo","tool":"get_weather"}\n')
    fs.closeSync(fd)
  }
  const blankSize = fs.statSync(blank).size / MB
  let before = resetPeak()
  const one = await loadExamples(blank)
  const blankPeak = peak() - before
  console.log(`JSONL of ${lines + 1} lines (${mb(blankSize)}), all blank but one: peak resident memory +${mb(blankPeak)}`)
  check(one.length === 1, 'the one example is read')
  check(blankPeak < 16, `read as a stream: peak +${mb(blankPeak)} for a ${mb(blankSize)} file (bound 16 MB)`)

  const full = path.join(tmp, 'full.jsonl')
  {
    const fd = fs.openSync(full, 'w')
    const toolNames = [...names]
    for (let i = 0; i < lines; i += 10_000) {
      let chunk = ''
      for (let k = i; k < i + 10_000; k++) {
        chunk += `${JSON.stringify({ text: `${texts[k % 249]} number ${k}`, tool: toolNames[k % toolNames.length] })}\n`
      }
      fs.writeSync(fd, chunk)
    }
    fs.closeSync(fd)
  }
  const fullSize = fs.statSync(full).size / MB
  before = resetPeak()
  t0 = Date.now()
  let examples = await loadExamples(full, { tools })
  const loadSecs = (Date.now() - t0) / 1000
  const fullPeak = peak() - before
  const held = rss() - before
  const perExample = (fullPeak * MB) / examples.length
  console.log(
    `JSONL of ${lines} examples (${mb(fullSize)}) in ${loadSecs.toFixed(1)} s: peak resident memory +${mb(fullPeak)} ` +
      `(${Math.round(perExample)} bytes per example at the peak, ${mb(held)} held by the JS array)`,
  )
  check(examples.length === lines, `${examples.length} examples`)
  check(perExample < 1024, `peak memory per example ${Math.round(perExample)} bytes (bound 1024)`)
  examples = undefined

  // --- 4. 100 000 tools -----------------------------------------------------------------------
  const toolsFile = path.join(tmp, 'tools.json')
  const many = Array.from({ length: 100_000 }, (_, i) => ({
    type: 'function',
    function: {
      name: `tool_${i}`,
      description: `Does thing number ${i}`,
      parameters: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' } }, required: ['q'] },
    },
  }))
  fs.writeFileSync(toolsFile, JSON.stringify(many))
  const toolsSize = fs.statSync(toolsFile).size / MB
  before = resetPeak()
  t0 = Date.now()
  const loaded = await loadTools(toolsFile)
  const toolsSecs = (Date.now() - t0) / 1000
  const toolsPeak = peak() - before
  console.log(`tools.json of 100000 tools (${mb(toolsSize)}) in ${toolsSecs.toFixed(1)} s: peak resident memory +${mb(toolsPeak)}`)
  check(loaded.length === 100_000 && loaded[99_999].name === 'tool_99999', '100000 tools, in order')
  check(toolsPeak < 40 * toolsSize, `peak memory ${mb(toolsPeak)} for ${mb(toolsSize)} of JSON (bound 40×)`)

  fs.rmSync(tmp, { recursive: true, force: true })
  console.log(
    `${failures.length === 0 ? 'PASS' : `FAIL (${failures.length})`} in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
      `peak resident memory of the run ${mb(status('VmHWM'))}`,
  )
  process.exitCode = failures.length === 0 ? 0 : 1
}

main().catch((e) => {
  fs.rmSync(tmp, { recursive: true, force: true })
  console.error(e)
  process.exitCode = 1
})
