// The honest evaluation (`npm run eval`): trains each model variant on each shared dataset
// (SNIPS, ATIS, CLINC150: train.jsonl, valid.jsonl for early stopping and calibration,
// test.jsonl for every number), then writes docs/eval.md (tables, the winner per dataset),
// docs/eval.json (every metric) and one risk-coverage plot per dataset (docs/eval/*.svg).
//
// Usage: npm run eval [-- --data DIR] [--only snips,atis] [--variants attention,gru] [--out docs]
// The datasets are read from --data (default ../shared/datasets or $TOOLROUTER_DATASETS);
// absent data is skipped with a message.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { Trainer, type Example, type Metrics, type Route, type TrainerOptions } from '../index'
import { DATASETS, DEFAULT_DATA_DIR, haveDatasets, loadDataset } from './datasets'

/** The variants compared, on the same splits and seed. */
const VARIANTS: Record<string, { label: string; options: TrainerOptions }> = {
  attention: { label: 'attention (default)', options: {} },
  gru: { label: 'GRU (prototype)', options: { architecture: 'gru', ngrams: false } },
  'gru-gumbel': {
    label: 'GRU + Gumbel',
    options: { architecture: 'gru', ngrams: false, gumbel: { tau: 1, anneal: 0.3 } },
  },
  'attention-gumbel': { label: 'attention + Gumbel', options: { gumbel: { tau: 1, anneal: 0.3 } } },
}

const COLORS = ['#1f77b4', '#d62728', '#ff7f0e', '#2ca02c']

interface Curve {
  /** (coverage, selective risk) over the in-scope test requests ranked by confidence. */
  points: [number, number][]
  /** The router's operating point at its threshold, over the in-scope requests. */
  at_threshold: [number, number]
}

interface Result {
  dataset: string
  variant: string
  label: string
  train_s: number
  epochs_run: number
  temperature: number
  threshold: number
  metrics: Metrics
  curve: Curve
}

/** Risk-coverage points: in-scope requests ranked by confidence (abstaining as "none" ranks last). */
function curveOf(test: Example[], top: Route[], atThreshold: Route[]): Curve {
  const rows = test
    .map((e, i) => ({ e, r: top[i] }))
    .filter(({ e }) => e.tool !== null)
    .map(({ e, r }) => ({ score: r.tool === null ? -1 : r.confidence, ok: r.tool === e.tool }))
    .sort((a, b) => b.score - a.score)
  const points: [number, number][] = []
  let wrong = 0
  const step = Math.max(1, Math.floor(rows.length / 400))
  rows.forEach((row, k) => {
    if (!row.ok) wrong++
    if ((k + 1) % step === 0 || k === rows.length - 1) points.push([(k + 1) / rows.length, wrong / (k + 1)])
  })
  const inScope = test.map((e, i) => ({ e, r: atThreshold[i] })).filter(({ e }) => e.tool !== null)
  const answered = inScope.filter(({ r }) => r.tool !== null)
  const answeredWrong = answered.filter(({ e, r }) => r.tool !== e.tool).length
  return {
    points,
    at_threshold: [answered.length / Math.max(1, inScope.length), answeredWrong / Math.max(1, answered.length)],
  }
}

function svgPlot(dataset: string, results: Result[]): string {
  const W = 640
  const H = 420
  const L = 64
  const R = 190
  const T = 40
  const B = 52
  const maxRisk = Math.max(0.02, ...results.map((r) => r.curve.points.at(-1)?.[1] ?? 0)) * 1.1
  const x = (c: number): number => L + c * (W - L - R)
  const y = (r: number): number => H - B - (r / maxRisk) * (H - T - B)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="15">${dataset}: risk-coverage on the in-scope test requests</text>`,
  ]
  for (let i = 0; i <= 10; i++) {
    const c = i / 10
    parts.push(`<line x1="${x(c)}" y1="${y(0)}" x2="${x(c)}" y2="${y(maxRisk)}" stroke="#eee"/>`)
    parts.push(`<text x="${x(c)}" y="${H - B + 16}" text-anchor="middle">${(100 * c).toFixed(0)}%</text>`)
  }
  const ticks = 5
  for (let i = 0; i <= ticks; i++) {
    const r = (maxRisk * i) / ticks
    parts.push(`<line x1="${x(0)}" y1="${y(r)}" x2="${x(1)}" y2="${y(r)}" stroke="#eee"/>`)
    parts.push(`<text x="${L - 6}" y="${y(r) + 4}" text-anchor="end">${(100 * r).toFixed(1)}%</text>`)
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(0)}" stroke="black"/>`)
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(maxRisk)}" stroke="black"/>`)
  parts.push(`<text x="${(x(0) + x(1)) / 2}" y="${H - 12}" text-anchor="middle">coverage (share of requests answered, most confident first)</text>`)
  parts.push(
    `<text transform="translate(16 ${(y(0) + y(maxRisk)) / 2}) rotate(-90)" text-anchor="middle">risk (error rate of the answered)</text>`,
  )
  results.forEach((res, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = res.curve.points.map(([c, r]) => `${x(c).toFixed(1)},${y(r).toFixed(1)}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`)
    const [c, r] = res.curve.at_threshold
    parts.push(`<circle cx="${x(c).toFixed(1)}" cy="${y(r).toFixed(1)}" r="5" fill="${color}" stroke="black"/>`)
    const ly = T + 10 + i * 20
    parts.push(`<line x1="${W - R + 14}" y1="${ly}" x2="${W - R + 38}" y2="${ly}" stroke="${color}" stroke-width="3"/>`)
    parts.push(`<text x="${W - R + 44}" y="${ly + 4}">${res.label}</text>`)
  })
  const ny = T + 10 + results.length * 20 + 10
  parts.push(`<circle cx="${W - R + 26}" cy="${ny}" r="5" fill="white" stroke="black"/>`)
  parts.push(`<text x="${W - R + 44}" y="${ny + 4}">at the fitted threshold</text>`)
  parts.push('</svg>')
  return parts.join('\n')
}

const pct = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined ? '–' : `${(100 * v).toFixed(digits)}%`
const num = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits)

function table(results: Result[]): string[] {
  const hasOos = results.some((r) => r.metrics.oos_recall !== undefined && r.metrics.oos_recall !== null)
  const head = [
    'variant',
    'accuracy',
    'macro F1',
    'ECE raw → calibrated',
    'NLL',
    'threshold',
    'coverage',
    'selective acc.',
    'sel. acc. @80/90/95% cov.',
    'cov. @99% / 99.5%',
    'AURC',
  ]
  if (hasOos) head.push('in-scope acc.', 'OOS recall', 'OOS precision')
  head.push('train')
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const r of results) {
    const m = r.metrics
    const sa = m.selective_accuracy_at ?? {}
    const ca = m.coverage_at ?? {}
    const cells = [
      r.label,
      pct(m.accuracy),
      pct(m.macro_f1),
      `${num(m.ece_uncalibrated)} → ${num(m.ece)}`,
      num(m.nll, 3),
      num(r.threshold, 3),
      pct(m.coverage, 1),
      pct(m.selective_accuracy),
      `${pct(sa['80'], 1)} / ${pct(sa['90'], 1)} / ${pct(sa['95'], 1)}`,
      `${pct(ca['99'], 1)} / ${pct(ca['99.5'], 1)}`,
      num(m.aurc),
    ]
    if (hasOos) cells.push(pct(m.in_scope_accuracy), pct(m.oos_recall), pct(m.oos_precision))
    cells.push(`${r.train_s.toFixed(0)} s`)
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines
}

/** One sentence per dataset naming the winner by accuracy and by AURC, with the margins. */
function verdict(results: Result[]): string {
  if (results.length < 2) return ''
  const byAcc = [...results].sort((a, b) => b.metrics.accuracy - a.metrics.accuracy)
  const byAurc = [...results].sort((a, b) => (a.metrics.aurc ?? 1) - (b.metrics.aurc ?? 1))
  const [a1, a2] = byAcc
  const [r1, r2] = byAurc
  return (
    `Best accuracy: **${a1.label}**, ${((a1.metrics.accuracy - a2.metrics.accuracy) * 100).toFixed(2)} points ` +
    `above the next (${a2.label}). Best AURC (the whole risk-coverage curve): **${r1.label}**, ` +
    `${num(r1.metrics.aurc)} against ${num(r2.metrics.aurc)} for ${r2.label}.`
  )
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      only: { type: 'string' },
      variants: { type: 'string' },
      out: { type: 'string', default: path.join(__dirname, '..', 'docs') },
      seed: { type: 'string', default: '42' },
    },
  })
  const dir = values.data as string
  if (!haveDatasets(dir)) return
  const datasets = values.only ? (values.only as string).split(',') : DATASETS
  const variants = values.variants ? (values.variants as string).split(',') : Object.keys(VARIANTS)
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}: one of ${Object.keys(VARIANTS).join(', ')}`)
  const seed = Number(values.seed)
  const out = values.out as string
  fs.mkdirSync(path.join(out, 'eval'), { recursive: true })
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.arch()}`
  const all: Result[] = []
  const md: string[] = [
    '# Evaluation',
    '',
    `Generated by \`npm run eval\` (bench/eval.ts) on ${new Date().toISOString().slice(0, 10)}; machine: ${machine}. ` +
      `Every number below comes from that run: each variant trains on \`train.jsonl\` with seed ${seed}, ` +
      'stops early and fits its temperature and threshold on `valid.jsonl`, and is scored once on `test.jsonl`.',
    '',
    'Columns: **accuracy** is the best tool without a threshold over in-scope requests; **ECE** (15 bins) of the ' +
      'best label before and after temperature scaling; **coverage** and **selective acc.** are the share of all test ' +
      'requests answered at the threshold fitted for 99% precision on validation, and how many of those answers are ' +
      'right; the **@** columns read the risk-coverage curve of the in-scope requests ranked by confidence; **AURC** ' +
      "is the area under that curve (lower is better); **in-scope acc.** counts an abstention as wrong (CLINC150's " +
      'protocol); **OOS recall** is the share of out-of-scope requests refused.',
    '',
  ]
  for (const name of datasets) {
    const data = await loadDataset(dir, name)
    if (data === undefined) continue
    const { tools, train, valid, test } = data
    const results: Result[] = []
    for (const v of variants) {
      const { label, options } = VARIANTS[v]
      const t0 = performance.now()
      const router = await new Trainer({ tools, seed, ...options }).fit(train, { valid })
      const trainS = (performance.now() - t0) / 1000
      const metrics = await router.evaluate(test)
      const texts = test.map((e) => e.text)
      const top = await router.routeBatch(texts, { threshold: 0 })
      const atThreshold = await router.routeBatch(texts)
      const res: Result = {
        dataset: name,
        variant: v,
        label,
        train_s: trainS,
        epochs_run: router.training.epochs_run,
        temperature: router.training.calibration.temperature,
        threshold: router.threshold,
        metrics,
        curve: curveOf(test, top, atThreshold),
      }
      results.push(res)
      all.push(res)
      console.error(
        `${name} ${v}: accuracy ${pct(metrics.accuracy)}, ECE ${num(metrics.ece_uncalibrated)} -> ${num(metrics.ece)}, ` +
          `coverage ${pct(metrics.coverage, 1)} at ${pct(metrics.selective_accuracy)}` +
          (metrics.oos_recall !== undefined && metrics.oos_recall !== null
            ? `, in-scope ${pct(metrics.in_scope_accuracy)}, OOS recall ${pct(metrics.oos_recall)}`
            : '') +
          `, ${trainS.toFixed(0)} s`,
      )
    }
    const svg = `eval/${name}-risk-coverage.svg`
    fs.writeFileSync(path.join(out, svg), svgPlot(name, results))
    md.push(`## ${name}`, '', `${train.length} train, ${valid?.length ?? 0} valid, ${test.length} test examples, ${tools.length} tools.`, '')
    md.push(...table(results), '')
    md.push(
      `Temperatures: ${results.map((r) => `${r.label} ${r.temperature.toFixed(3)}`).join(', ')}.`,
      '',
      verdict(results),
      '',
      `![${name} risk-coverage](${svg})`,
      '',
    )
  }
  fs.writeFileSync(path.join(out, 'eval.md'), md.join('\n'))
  fs.writeFileSync(
    path.join(out, 'eval.json'),
    `${JSON.stringify({ machine, seed, results: all.map(({ curve: _c, ...r }) => r) }, null, 1)}\n`,
  )
  console.error(`wrote ${path.join(out, 'eval.md')}`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
