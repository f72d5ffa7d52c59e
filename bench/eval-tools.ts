// Adding tools without retraining, measured (`npm run eval:tools`, issue 10): CLINC150 with whole
// intents held out (30 of 150 per seed), each seed trains a router on the other 120, then adds
// the 30 with `addTool` (Router::add_tool) from their descriptions alone and with 1, 5 and 10
// examples each, and scores the held-out intents' test requests (best of all 150 tools and
// "none"), the old intents' requests and the out-of-scope ones. Compared: the classic head
// (rows predicted by ridge maps) and the tool space (`toolSpace: true`, a trained tool encoder),
// and retraining from scratch with the same examples. Writes docs/eval-tools.md and
// docs/eval-tools.json (every number).
//
// Usage: npm run eval:tools [-- --data DIR] [--seeds 5] [--split test|valid] [--no-retrain] [--out docs]
//        npm run eval:tools -- --render   (re-renders eval-tools.md from eval-tools.json)
// Runs the Rust example crates/toolrouter-core/examples/toolspace_eval.rs through cargo (a
// development command: it needs the Rust toolchain). The datasets are read from --data (default
// ../shared/datasets or $TOOLROUTER_DATASETS); absent data is skipped with a message.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_DATA_DIR, haveDatasets } from './datasets'

const ROOT = path.join(__dirname, '..')
const DESCRIPTIONS = 'bench/fixtures/clinc150-descriptions.json'
const SHOTS = [0, 1, 5, 10]

interface Variant {
  key: string
  label: string
  args: string[]
  /** Also retrain from scratch with the same examples (the same for both variants: done once). */
  retrain: boolean
}

const VARIANTS: Variant[] = [
  { key: 'tool_space', label: 'tool space (`toolSpace: true`)', args: ['pretrained=minilm', 'freeze_pretrained=true', 'tool_space=1'], retrain: true },
  { key: 'classic', label: 'classic head (ridge rows)', args: ['pretrained=minilm', 'freeze_pretrained=true'], retrain: false },
]

interface ShotRow {
  shots: number
  new_accuracy: number
  old_accuracy: number
  oos_recall: number
  add_tool_first_ms: number
  add_tool_p50_ms: number
  retrain_new_accuracy?: number
  retrain_old_accuracy?: number
  /** [bias shift on top of the chosen one, new accuracy, old accuracy]. */
  sweep: [number, number, number][]
}

interface Run {
  seed: number
  held_out: string[]
  train_s: number
  tool_space_s: number
  classic_old_accuracy: number
  old_accuracy_before: number
  oos_recall_before: number
  threshold: number
  temperature: number
  shots: ShotRow[]
}

interface Report {
  date: string
  machine: string
  command: string
  split: string
  seeds: number
  held_out_per_seed: number
  variants: { key: string; label: string; runs: Run[] }[]
}

function run(dataDir: string, v: Variant, split: string, seeds: number, retrain: boolean): Run[] {
  const args = [
    'run',
    '--release',
    '--quiet',
    '-p',
    'toolrouter-core',
    '--example',
    'toolspace_eval',
    '--',
    path.join(dataDir, 'clinc150'),
    DESCRIPTIONS,
    `split=${split}`,
    `seeds=${seeds}`,
    `retrain=${retrain && v.retrain ? 1 : 0}`,
    // The base router of a seed is trained once and shared by the variants.
    `cache=${path.join('target', 'eval-tools-cache')}`,
    ...v.args,
  ]
  console.error(`${v.key}: cargo ${args.join(' ')}`)
  const r = spawnSync('cargo', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`toolspace_eval failed (${String(r.status)})`)
  const out = JSON.parse(r.stdout) as { runs: Run[] }
  return out.runs
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const sd = (xs: number[]): number => {
  const m = mean(xs)
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)))
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`
const pm = (xs: number[]): string => (xs.length > 1 ? `${pct(mean(xs))} ± ${(100 * sd(xs)).toFixed(1)}` : pct(mean(xs)))

function shot(runs: Run[], k: number): ShotRow[] {
  return runs.map((r) => r.shots.find((s) => s.shots === k)).filter((s): s is ShotRow => s !== undefined)
}

/** Mean drop of old-tool accuracy after adding, in points, per seed. */
function drops(runs: Run[], k: number): number[] {
  return runs.map((r) => {
    const s = r.shots.find((x) => x.shots === k)
    return s === undefined ? NaN : 100 * (r.old_accuracy_before - s.old_accuracy)
  })
}

/** Training times; a base router read from the cache (a second or less) is left out. */
function trainingTimes(runs: Run[], toolSpace: boolean): string {
  const trained = runs.filter((r) => r.train_s > 5).map((r) => r.train_s)
  const base = trained.length > 0 ? `${mean(trained).toFixed(0)} s for the router (${trained.length} of ${runs.length} seeds trained in this run, the others read from the cache)` : 'routers read from the cache'
  return `Training: ${base}` + (toolSpace ? `, then ${mean(runs.map((r) => r.tool_space_s)).toFixed(0)} s for the tool space.` : '.')
}

function render(rep: Report): string {
  const ts = rep.variants.find((v) => v.key === 'tool_space')
  const classic = rep.variants.find((v) => v.key === 'classic')
  const lines: string[] = [
    '# Adding tools without retraining (CLINC150, whole intents held out)',
    '',
    `Generated by \`${rep.command}\` (bench/eval-tools.ts driving crates/toolrouter-core/examples/toolspace_eval.rs) ` +
      `on ${rep.date}; machine: ${rep.machine}. Split scored: **${rep.split}**; ${rep.seeds} seed(s), ` +
      `${rep.held_out_per_seed} of 150 intents held out per seed (a seeded random choice). Every number below is in ` +
      '[eval-tools.json](eval-tools.json).',
    '',
    'Protocol: a router is trained on the 120 other intents (and the out-of-scope rows), with the static MiniLM word ' +
      'table (`pretrained: "minilm"`); the 30 held-out intents are then added with `addTool` from their descriptions ' +
      '(`bench/fixtures/clinc150-descriptions.json`, written for this evaluation from the intent names, not from the ' +
      'test requests) alone, and with 1, 5 and 10 of their training requests. **new** is the accuracy on the held-out ' +
      "intents' test requests, **old** on the 120 others' (best label of all 150 tools and \"none\", no threshold), " +
      '**OOS** the share of out-of-scope requests still left to the LLM at the calibrated threshold. **retrain** trains ' +
      'a router from scratch on the 120 intents plus the same 1, 5 or 10 examples of each new one.',
    '',
    'Timings: a 2-core machine, nothing else heavy running; ' +
      '`add_tool` is timed in the Rust example (no Node overhead), the first add separately (it reads the tool ' +
      'encoder, or fits the ridge maps of a classic router).',
    '',
  ]
  if (ts !== undefined) {
    const zero = shot(ts.runs, 0).map((s) => s.new_accuracy)
    const five = shot(ts.runs, 5).map((s) => s.new_accuracy)
    const worstDrop = Math.max(...SHOTS.map((k) => mean(drops(ts.runs, k))))
    const p50 = median(ts.runs.flatMap((r) => r.shots.map((s) => s.add_tool_p50_ms)))
    const first = Math.max(...ts.runs.flatMap((r) => r.shots.map((s) => s.add_tool_first_ms)))
    lines.push(
      '## The bars of issue 10 (tool space)',
      '',
      '| bar | measured | met |',
      '| --- | --- | --- |',
      `| zero-shot accuracy on held-out intents ≥ 60% | ${pm(zero)} | ${mean(zero) >= 0.6 ? 'yes' : '**no**'} |`,
      `| 5-shot accuracy ≥ 85% | ${pm(five)} | ${mean(five) >= 0.85 ? 'yes' : '**no**'} |`,
      `| old tools' accuracy drops ≤ 1 point | worst mean drop ${worstDrop.toFixed(2)} points (over 0/1/5/10 shots) | ${worstDrop <= 1 ? 'yes' : '**no**'} |`,
      `| addTool under 10 ms | p50 ${p50.toFixed(2)} ms, slowest first add ${first.toFixed(1)} ms | ${p50 < 10 && first < 10 ? 'yes' : p50 < 10 ? 'p50 yes, first add **no**' : '**no**'} |`,
      '',
    )
  }
  for (const v of rep.variants) {
    const before = v.runs.map((r) => r.old_accuracy_before)
    lines.push(
      `## ${v.label}`,
      '',
      `Old intents before adding: ${pm(before)} (the classic router of the same seed: ${pm(v.runs.map((r) => r.classic_old_accuracy))}); ` +
        `OOS left to the LLM before adding: ${pm(v.runs.map((r) => r.oos_recall_before))}. ` +
        trainingTimes(v.runs, v.key === 'tool_space'),
      '',
      '| shots | new | old after | old drop (points) | OOS after | addTool p50 | first addTool |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    )
    for (const k of SHOTS) {
      const rows = shot(v.runs, k)
      lines.push(
        `| ${k} | ${pm(rows.map((s) => s.new_accuracy))} | ${pm(rows.map((s) => s.old_accuracy))} | ` +
          `${mean(drops(v.runs, k)).toFixed(2)} | ${pm(rows.map((s) => s.oos_recall))} | ` +
          `${median(rows.map((s) => s.add_tool_p50_ms)).toFixed(2)} ms | ${median(rows.map((s) => s.add_tool_first_ms)).toFixed(1)} ms |`,
      )
    }
    lines.push('')
  }
  const retrained = ts?.runs.flatMap((r) => r.shots).some((s) => s.retrain_new_accuracy !== undefined)
  if (ts !== undefined && retrained === true) {
    lines.push(
      '## Against retraining from scratch with the same examples',
      '',
      '| shots | addTool (tool space): new / old | retrain: new / old |',
      '| --- | --- | --- |',
    )
    for (const k of SHOTS.slice(1)) {
      const rows = shot(ts.runs, k)
      lines.push(
        `| ${k} | ${pm(rows.map((s) => s.new_accuracy))} / ${pm(rows.map((s) => s.old_accuracy))} | ` +
          `${pm(rows.flatMap((s) => s.retrain_new_accuracy ?? []))} / ${pm(rows.flatMap((s) => s.retrain_old_accuracy ?? []))} |`,
      )
    }
    lines.push('')
  }
  if (ts !== undefined) {
    const shifts = [-2, -1, 0, 1, 2]
    lines.push(
      '## The trade-off: new tools against old ones',
      '',
      "Added tools' rows get a bias offset per shot count, chosen at training time on the validation requests of the " +
        'trained tools (a fifth of them at a time replaced by rows from their text: the most generous offset that ' +
        'costs the others at most 0.5 point there), less a margin of 2.5 logits (`toolSpaceMargin`, chosen on the ' +
        'validation split: that simulation is optimistic). Moving the offset trades the new tools\' accuracy against ' +
        "the old ones' (mean over seeds, new / old; shift 0 is the router's own):",
      '',
      'The margin was chosen on the validation split, seed 0, with the margin at 3.5 first: ' +
        '`cargo run --release -p toolrouter-core --example toolspace_eval -- ../shared/datasets/clinc150 ' +
        'bench/fixtures/clinc150-descriptions.json split=valid seeds=1 pretrained=minilm tool_space=1 ts_margin=3.5` ' +
        'gave 36/44/50/52% on the new intents (0/1/5/10 shots) at a 0.3-point drop on the old ones (93.7% before), and ' +
        'its sweep at shift +1 (a 2.5 margin) 44/51/60/61% at a 0.6 to 0.9-point drop; an earlier build without any offset ' +
        'reached 67% zero-shot and 84% 5-shot there, at a 6 to 9-point drop.',
      '',
      `| shots | ${shifts.map((d) => `shift ${d > 0 ? '+' : ''}${d}`).join(' | ')} |`,
      `| --- | ${shifts.map(() => '---').join(' | ')} |`,
    )
    for (const k of SHOTS) {
      const rows = shot(ts.runs, k)
      const cell = (d: number): string => {
        const pts = rows.map((s) => s.sweep.find((p) => p[0] === d)).filter((p): p is [number, number, number] => p !== undefined)
        return `${pct(mean(pts.map((p) => p[1])))} / ${pct(mean(pts.map((p) => p[2])))}`
      }
      lines.push(`| ${k} | ${shifts.map(cell).join(' | ')} |`)
    }
    lines.push('')
  }
  if (ts !== undefined && classic !== undefined) {
    const gain = mean(SHOTS.map((k) => mean(shot(ts.runs, k).map((s) => s.new_accuracy)) - mean(shot(classic.runs, k).map((s) => s.new_accuracy))))
    const cost = mean(ts.runs.map((r) => r.classic_old_accuracy - r.old_accuracy_before))
    lines.push(
      '## Which is the default',
      '',
      `The classic head stays the default of \`Trainer\`: the tool space costs ${(100 * cost).toFixed(1)} points on the ` +
        `trained tools before anything is added and about ${mean(ts.runs.map((r) => r.tool_space_s)).toFixed(0)} s more training, ` +
        'and misses the bars above. `addTool` works on both; on a router trained with `toolSpace: true` it is ' +
        `${(100 * gain).toFixed(1)} points more accurate on the new tools (mean over 0/1/5/10 shots), so train with ` +
        '`toolSpace: true` when tools will be added later.',
      '',
    )
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      seeds: { type: 'string', default: '5' },
      split: { type: 'string', default: 'test' },
      'no-retrain': { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT, 'docs') },
      render: { type: 'boolean', default: false },
    },
  })
  const out = values.out
  const jsonPath = path.join(out, 'eval-tools.json')
  if (values.render) {
    const rep = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as Report
    fs.writeFileSync(path.join(out, 'eval-tools.md'), render(rep))
    return
  }
  if (!haveDatasets(values.data) || !fs.existsSync(path.join(values.data, 'clinc150', 'train.jsonl'))) {
    console.error(`skipped: no CLINC150 at ${path.join(values.data, 'clinc150')}`)
    return
  }
  const seeds = Number(values.seeds)
  const retrain = !values['no-retrain']
  const cpu = os.cpus()
  const rep: Report = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${os.platform()} ${os.arch()}`,
    command:
      `npm run eval:tools -- --seeds ${seeds} --split ${values.split}` + (retrain ? '' : ' --no-retrain'),
    split: values.split,
    seeds,
    held_out_per_seed: 30,
    variants: VARIANTS.map((v) => ({ key: v.key, label: v.label, runs: run(values.data, v, values.split, seeds, retrain) })),
  }
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(jsonPath, `${JSON.stringify(rep, null, 1)}\n`)
  fs.writeFileSync(path.join(out, 'eval-tools.md'), render(rep))
  console.error(`wrote ${path.join(out, 'eval-tools.md')} and ${jsonPath}`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
