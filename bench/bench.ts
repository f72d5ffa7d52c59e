// `npm run bench`: routing latency from JS, where it goes, the arithmetic floor beside it,
// batch throughput, training time, model size and peak memory.
//
// Models: the default ToolController trained on the bundled demo data, and (when the shared
// datasets are there) on CLINC150, the CLINC150-sized case; SNIPS measures the training time to
// the foundation's accuracy bar (98%). Usage:
//   npm run bench [-- --json] [--data DIR] [--calls 10000] [--quick] [--sizes] [--peers]
// --quick: demo model only, 2000 calls (a smoke run, not for the README).
// --sizes: the accuracy / latency curve the default model size is chosen from: SNIPS and
//   CLINC150 trained at each width in SIZES (2 layers, 16-wide heads), test accuracy and batch-1
//   route() p50 from JS for each (about 20 minutes on 2 cores; not shortened by --quick).
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { loadExamples, loadTools, Trainer, type Example, type Router, type ToolSpec } from '../index'
import * as native from '../native'
import { DEFAULT_DATA_DIR, loadDataset } from './datasets'
import { runTeacher, type TeacherResult } from './teacher'


interface ModelBench {
  examples: number
  tools: number
  train_s: number
  train_examples_per_s: number
  accuracy: number
  model_bytes: number
  tokens_mean: number
  flops: number
  isa: string | null
  route_p50_us: number
  route_p99_us: number
  route_max_us: number
  floor_us: number | null
  ratio_to_floor: number | null
  tokenize_p50_us: number
  features_p50_us: number
  forward_p50_us: number
  decide_p50_us: number
  /** route_p50 − (tokenize + features + forward + decide): the N-API crossing and JS conversions. */
  napi_and_js_us: number
  gflops_kernel: number | null
  gflops_gemm_crate: number | null
  /** The rate of the forward's own products (packed AVX-512 kernel where the CPU has it). */
  gflops_forward: number | null
  /** The floor at the better of the forward's rate and the plain products', and p50 against it. */
  floor_forward_us: number | null
  ratio_to_forward_floor: number | null
  /** routes/s by batch size, then threads. */
  batch_throughput: Record<string, Record<string, number>>
  /** batch 256 on 2 threads against the rate the floor allows on 2 cores. */
  batch_share_of_floor: number | null
  /** The same against the stricter floor. */
  batch_share_of_forward_floor: number | null
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

interface Latency {
  p50: number
  p99: number
  max: number
}

/** `calls` synchronous route() calls over `texts` after 1000 warm-up calls, in µs. */
function routeLatency(router: Router, texts: string[], calls: number): Latency {
  for (let i = 0; i < 1000; i++) router.route(texts[i % texts.length])
  const lat: number[] = new Array<number>(calls)
  for (let i = 0; i < calls; i++) {
    const text = texts[i % texts.length]
    const s = process.hrtime.bigint()
    router.route(text)
    lat[i] = Number(process.hrtime.bigint() - s) / 1e3
  }
  lat.sort((a, b) => a - b)
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat[lat.length - 1] }
}

async function fileBytes(router: Router, name: string): Promise<number> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'toolrouter-bench-')), `${name}.trm`)
  await router.save(file)
  const bytes = fs.statSync(file).size
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
  return bytes
}

function napiEmptyCallUs(): number {
  const n = 1_000_000
  for (let i = 0; i < 10_000; i++) native.benchNoop()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) native.benchNoop()
  return Number(process.hrtime.bigint() - t0) / 1e3 / n
}

async function throughput(router: Router, texts: string[], batch: number, threads: number, minS: number): Promise<number> {
  const batches: string[][] = []
  for (let i = 0; i < 8; i++) {
    batches.push(Array.from({ length: batch }, (_, k) => texts[(i * batch + k) % texts.length]))
  }
  await router.routeBatch(batches[0], { threads })
  let routes = 0
  const t0 = performance.now()
  let i = 0
  while (performance.now() - t0 < minS * 1000) {
    await router.routeBatch(batches[i++ % batches.length], { threads })
    routes += batch
  }
  return routes / ((performance.now() - t0) / 1000)
}

async function benchModel(
  name: string,
  tools: ToolSpec[],
  train: Example[],
  valid: Example[] | undefined,
  test: Example[],
  calls: number,
  quick: boolean,
): Promise<ModelBench> {
  const t0 = performance.now()
  const router = await new Trainer({ tools }).fit(train, { valid })
  const trainS = (performance.now() - t0) / 1000
  const metrics = await router.evaluate(test)
  const modelBytes = await fileBytes(router, name)

  const texts = test.map((e) => e.text)
  const lat = routeLatency(router, texts, calls)
  const p = router.profile(texts.slice(0, 500), quick ? 2 : 5)
  const p50 = lat.p50
  const stages = p.tokenize_us + p.features_us + p.forward_us + p.decide_us
  const batchThroughput: Record<string, Record<string, number>> = {}
  for (const batch of [1, 32, 256]) {
    batchThroughput[String(batch)] = {}
    for (const threads of [1, 2]) {
      batchThroughput[String(batch)][String(threads)] = await throughput(router, texts, batch, threads, quick ? 0.3 : 2)
    }
  }
  // On 2 cores the floor allows 2 / floor_us routes per µs.
  const floorRate = p.floor_us !== null ? (2 * 1e6) / p.floor_us : null
  return {
    examples: train.length,
    tools: tools.length,
    train_s: trainS,
    train_examples_per_s: (train.length * router.training.epochs_run) / trainS,
    accuracy: metrics.accuracy,
    model_bytes: modelBytes,
    tokens_mean: p.tokens_mean,
    flops: p.flops,
    isa: p.isa,
    route_p50_us: p50,
    route_p99_us: lat.p99,
    route_max_us: lat.max,
    floor_us: p.floor_us,
    ratio_to_floor: p.floor_us !== null ? p50 / p.floor_us : null,
    tokenize_p50_us: p.tokenize_us,
    features_p50_us: p.features_us,
    forward_p50_us: p.forward_us,
    decide_p50_us: p.decide_us,
    napi_and_js_us: Math.max(0, p50 - stages),
    gflops_kernel: p.gflops_kernel,
    gflops_gemm_crate: p.gflops_gemm_crate,
    gflops_forward: p.gflops_forward,
    floor_forward_us: p.floor_forward_us,
    ratio_to_forward_floor: p.floor_forward_us !== null ? p50 / p.floor_forward_us : null,
    batch_throughput: batchThroughput,
    batch_share_of_floor: floorRate !== null ? batchThroughput['256']['2'] / floorRate : null,
    batch_share_of_forward_floor:
      p.floor_forward_us !== null ? batchThroughput['256']['2'] / ((2 * 1e6) / p.floor_forward_us) : null,
  }
}

/** Widths of the size curve; heads keep 16 dimensions each, as the default (64 wide, 4 heads). */
const SIZES = [32, 48, 64, 96, 128].map((dModel) => ({ dModel, heads: dModel / 16, layers: 2 }))
const SIZE_DATASETS = ['snips', 'clinc150']

interface SizeRow {
  dataset: string
  d_model: number
  heads: number
  layers: number
  /** Test accuracy (in scope: "no tool" for a CLINC150 in-scope request counts as wrong). */
  accuracy: number
  route_p50_us: number
  route_p99_us: number
  /** The forward pass's arithmetic floor at the mean token count (see `router.profile`). */
  floor_us: number | null
  flops: number
  train_s: number
  model_bytes: number
}

/** Trains SNIPS and CLINC150 at each of SIZES; null (with the reason) when the data is absent. */
async function benchSizes(dir: string, calls: number, log: (s: string) => void): Promise<SizeRow[] | null> {
  if (!fs.existsSync(dir)) {
    log(`skipped --sizes: no datasets at ${dir} (pass --data DIR or set TOOLROUTER_DATASETS)`)
    return null
  }
  const rows: SizeRow[] = []
  for (const name of SIZE_DATASETS) {
    const data = await loadDataset(dir, name)
    if (data === undefined) continue
    const texts = data.test.map((e) => e.text)
    for (const size of SIZES) {
      log(`sizes: ${name} d_model ${size.dModel}, ${size.heads} heads: training and timing…`)
      const t0 = performance.now()
      const router = await new Trainer({ tools: data.tools, ...size }).fit(data.train, { valid: data.valid })
      const trainS = (performance.now() - t0) / 1000
      const metrics = await router.evaluate(data.test)
      const lat = routeLatency(router, texts, calls)
      const p = router.profile(texts.slice(0, 200), 2)
      rows.push({
        dataset: name,
        d_model: size.dModel,
        heads: size.heads,
        layers: size.layers,
        accuracy: metrics.accuracy,
        route_p50_us: lat.p50,
        route_p99_us: lat.p99,
        floor_us: p.floor_us,
        flops: p.flops,
        train_s: trainS,
        model_bytes: await fileBytes(router, `${name}-${size.dModel}`),
      })
    }
  }
  return rows.length > 0 ? rows : null
}

function printSizes(rows: SizeRow[]): void {
  const datasets = [...new Set(rows.map((r) => r.dataset))]
  const head = datasets.map((d) => `${d} accuracy | ${d} route() p50 / floor (µs) | ${d} train`)
  console.log(`\n| d_model, heads (${rows[0].layers} layers) | ${head.join(' | ')} |`)
  console.log(`|---|${datasets.map(() => '---|---|---').join('|')}|`)
  for (const size of SIZES) {
    const cells = datasets.map((d) => {
      const r = rows.find((x) => x.dataset === d && x.d_model === size.dModel)
      if (r === undefined) return '– | – | –'
      return `${(100 * r.accuracy).toFixed(2)}% | ${r.route_p50_us.toFixed(1)} / ${f1(r.floor_us)} | ${r.train_s.toFixed(0)} s`
    })
    console.log(`| ${size.dModel}, ${size.heads} | ${cells.join(' | ')} |`)
  }
}

const f1 = (v: number | null, d = 1): string => (v === null ? '–' : v.toFixed(d))

function printTable(models: Record<string, ModelBench>, napiUs: number): void {
  const rows: [string, (m: ModelBench) => string][] = [
    ['train examples / tools', (m) => `${m.examples} / ${m.tools}`],
    ['test accuracy', (m) => `${(100 * m.accuracy).toFixed(2)}%`],
    ['route() p50 / p99 / max (µs)', (m) => `${f1(m.route_p50_us)} / ${f1(m.route_p99_us)} / ${f1(m.route_max_us)}`],
    ['arithmetic floor (µs)', (m) => f1(m.floor_us, 2)],
    ['ratio to floor (p50 / floor)', (m) => f1(m.ratio_to_floor, 2)],
    [
      'tokenize / n-grams / forward / decide (µs)',
      (m) => `${f1(m.tokenize_p50_us)} / ${f1(m.features_p50_us)} / ${f1(m.forward_p50_us)} / ${f1(m.decide_p50_us)}`,
    ],
    ['N-API crossing and JS (µs)', (m) => f1(m.napi_and_js_us)],
    ['tokens per request (mean), FLOPs', (m) => `${m.tokens_mean.toFixed(1)}, ${(m.flops / 1e6).toFixed(2)} M`],
    ['matmul GFLOP/s: our kernel / gemm crate', (m) => `${f1(m.gflops_kernel)} / ${f1(m.gflops_gemm_crate)} (${m.isa ?? 'candle'})`],
    ['matmul GFLOP/s the forward runs at (packed)', (m) => f1(m.gflops_forward)],
    ['stricter floor at that rate (µs), p50 / it', (m) => `${f1(m.floor_forward_us, 2)}, ${f1(m.ratio_to_forward_floor, 2)}`],
    ...[1, 32, 256].map(
      (b): [string, (m: ModelBench) => string] => [
        `routeBatch(${b}) routes/s, 1 / 2 threads`,
        (m) => `${m.batch_throughput[String(b)]['1'].toFixed(0)} / ${m.batch_throughput[String(b)]['2'].toFixed(0)}`,
      ],
    ),
    ['batch 256 × 2 threads, share of the floor rate', (m) => (m.batch_share_of_floor === null ? '–' : `${(100 * m.batch_share_of_floor).toFixed(0)}%`)],
    ['the same, of the stricter floor\'s rate', (m) => (m.batch_share_of_forward_floor === null ? '–' : `${(100 * m.batch_share_of_forward_floor).toFixed(0)}%`)],
    ['training (s), examples/s', (m) => `${m.train_s.toFixed(1)}, ${m.train_examples_per_s.toFixed(0)}`],
    ['model file', (m) => `${(m.model_bytes / 1e6).toFixed(1)} MB`],
  ]
  const names = Object.keys(models)
  console.log(`| | ${names.join(' | ')} |`)
  console.log(`|---|${names.map(() => '---').join('|')}|`)
  for (const [label, get] of rows) console.log(`| ${label} | ${names.map((n) => get(models[n])).join(' | ')} |`)
  console.log(`\nempty N-API call: ${napiUs.toFixed(3)} µs`)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      calls: { type: 'string', default: '10000' },
      quick: { type: 'boolean', default: false },
      peers: { type: 'boolean', default: false },
      sizes: { type: 'boolean', default: false },
    },
  })
  const quick = values.quick === true
  const calls = quick ? 2000 : Number(values.calls)
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.arch()}`
  const log = (s: string): void => {
    if (!values.json) console.error(s)
  }
  const napiUs = napiEmptyCallUs()
  const models: Record<string, ModelBench> = {}

  const demo = path.join(__dirname, '..', 'data', 'demo')
  const tools = await loadTools(path.join(demo, 'tools.json'))
  log('demo: training and timing…')
  models.demo = await benchModel(
    'demo',
    tools,
    await loadExamples(path.join(demo, 'train.jsonl'), { tools }),
    undefined,
    await loadExamples(path.join(demo, 'test.jsonl'), { tools }),
    calls,
    quick,
  )

  let snips: { train_s: number; accuracy: number; bar: number; examples_per_s: number } | null = null
  const dir = values.data as string
  if (quick) {
    log('--quick: demo model only')
  } else if (!fs.existsSync(dir)) {
    log(`skipped CLINC150 and SNIPS: no datasets at ${dir} (pass --data DIR or set TOOLROUTER_DATASETS)`)
  } else {
    const clinc = await loadDataset(dir, 'clinc150')
    if (clinc) {
      log('clinc150: training and timing…')
      models.clinc150 = await benchModel('clinc150', clinc.tools, clinc.train, clinc.valid, clinc.test, calls, quick)
    }
    const sn = await loadDataset(dir, 'snips')
    if (sn) {
      log('snips: training to the accuracy bar…')
      const t0 = performance.now()
      const router = await new Trainer({ tools: sn.tools }).fit(sn.train, { valid: sn.valid })
      const trainS = (performance.now() - t0) / 1000
      const m = await router.evaluate(sn.test)
      snips = {
        train_s: trainS,
        accuracy: m.accuracy,
        bar: 0.98,
        examples_per_s: (sn.train.length * router.training.epochs_run) / trainS,
      }
    }
  }
  const peers = values.peers ? runPeers(dir, log) : null
  const sizes = values.sizes ? await benchSizes(dir, calls, log) : null
  const d = models.demo
  const result = {
    machine,
    route_p50_us: d.route_p50_us,
    route_p99_us: d.route_p99_us,
    floor_us: d.floor_us,
    ratio_to_floor: d.ratio_to_floor,
    tokenize_p50_us: d.tokenize_p50_us,
    napi_empty_call_us: napiUs,
    batch_throughput: d.batch_throughput,
    train_s: snips?.train_s ?? d.train_s,
    train_examples_per_s: snips?.examples_per_s ?? d.train_examples_per_s,
    model_bytes: d.model_bytes,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    snips,
    models,
    peers,
    sizes,
  }
  if (values.json) {
    console.log(JSON.stringify(result))
    return
  }
  console.log(`machine: ${machine}\n`)
  printTable(models, napiUs)
  if (snips) {
    console.log(
      `SNIPS: trained in ${snips.train_s.toFixed(0)} s (${snips.examples_per_s.toFixed(0)} examples/s), ` +
        `test accuracy ${(100 * snips.accuracy).toFixed(2)}% (bar ${100 * snips.bar}%)`,
    )
  }
  if (peers) {
    const ours = models.clinc150
    console.log(
      `\npeer on CLINC150 in-scope test (${peers.peer}): accuracy ${(100 * peers.in_scope_accuracy).toFixed(2)}%, ` +
        `batch-1 route p50 ${peers.route_p50_us.toFixed(0)} µs, p99 ${peers.route_p99_us.toFixed(0)} µs` +
        (ours ? `; toolrouter: ${(100 * ours.accuracy).toFixed(2)}%, p50 ${ours.route_p50_us.toFixed(0)} µs` : ''),
    )
  }
  if (sizes) printSizes(sizes)
  console.log(`peak RSS: ${(result.peak_rss_bytes / 1e6).toFixed(0)} MB`)
}

/** The embedding nearest-neighbour peer (all-MiniLM-L6-v2, semantic-router style) on CLINC150. */
function runPeers(dir: string, log: (s: string) => void): TeacherResult | null {
  return runTeacher(dir, 'clinc150', log)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
