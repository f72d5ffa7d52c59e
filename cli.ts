#!/usr/bin/env node
/**
 * The `toolrouter` command: train a router from JSONL examples, score it, and route requests.
 *
 * @example
 * ```sh
 * toolrouter train --train data/demo/train.jsonl --tools data/demo/tools.json --out demo.trm
 * toolrouter eval --model demo.trm --data data/demo/test.jsonl
 * echo 'will it rain in Oslo tomorrow?' | toolrouter route --model demo.trm
 * toolrouter distill --traces chat-log.jsonl --format openai --out distilled.jsonl
 * toolrouter add-tool --model demo.trm --tool new-tools.json --examples new.jsonl --out demo2.trm
 * ```
 */
import { readFileSync, statSync, writeFileSync, type Stats } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

import { Command, CommanderError, InvalidArgumentError } from 'commander'

import { Router, Trainer, ToolrouterError, loadExamples, loadTools } from './index'
import type { Metrics, Progress, Route, ToolrouterErrorCode } from './index'
import { readTraces, TRACE_FORMATS, type TraceFormat } from './ts/traces'

// ---------------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------------

const EXIT_OK = 0
const EXIT_USAGE = 1
const EXIT_DATA = 2
const EXIT_OTHER = 3
const EXIT_SIGINT = 130

/** Errors caused by the user's files or arguments rather than by toolrouter itself. */
const DATA_CODES: ReadonlySet<ToolrouterErrorCode> = new Set<ToolrouterErrorCode>([
  'DATASET_INVALID',
  'TOOLS_INVALID',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'MODEL_VERSION',
  'IO',
  'INVALID_ARGUMENT',
])

const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    usage error (unknown command or option, missing or malformed option)
  2    bad data or model (codes DATASET_INVALID, TOOLS_INVALID, MODEL_NOT_FOUND, MODEL_INVALID,
       MODEL_VERSION, IO, INVALID_ARGUMENT); the message names the file and line
  3    any other error
  130  interrupted (Ctrl-C)

Errors are printed to stderr as "toolrouter: <CODE>: <message>".`

/** Ctrl-C during training: the training stopped and nothing was saved. */
class Interrupted extends Error {
  constructor() {
    super('aborted')
    this.name = 'Interrupted'
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(__dirname, 'package.json'), 'utf8'))
  const version = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>).version : undefined
  return typeof version === 'string' ? version : '0.0.0'
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`
}

function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`
  const m = Math.floor(s / 60)
  return `${m}m${String(Math.floor(s - 60 * m)).padStart(2, '0')}s`
}

function toolName(tool: string | null): string {
  return tool ?? '(no tool)'
}

/**
 * Whether a closed stdout (`… | head`) ends the command quietly. Commands that write a file
 * (train, add-tool, distill) finish it instead, and print nothing more.
 */
let exitWhenStdoutCloses = true
let stdoutClosed = false

function writeJson(value: unknown): void {
  if (!stdoutClosed) process.stdout.write(`${JSON.stringify(value)}\n`)
}

// ---------------------------------------------------------------------------------------------
// Option parsers (a bad value is a usage error: exit 1)
// ---------------------------------------------------------------------------------------------

function pretrainedTable(value: string): 'minilm' | 'none' {
  if (value !== 'minilm' && value !== 'none') throw new InvalidArgumentError("expected 'minilm' or 'none'")
  return value
}

function probability(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number in [0, 1]')
  return n
}

function integer(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`)
    }
    return n
  }
}

// ---------------------------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------------------------

interface TrainCliOptions {
  train: string
  tools: string
  valid?: string
  init?: string
  out: string
  seed?: number
  epochs?: number
  layers?: number
  dModel?: number
  pretrained?: 'minilm' | 'none'
  teacher?: string
  toolSpace?: boolean
  json?: boolean
}

/** Shows training progress on stderr: a bar redrawn in place on a terminal, a line per epoch otherwise. */
class ProgressView {
  readonly #tty: boolean
  #drawn = false
  /** The last epoch's validation accuracy, shown while the next epoch runs. */
  #validAccuracy: number | undefined

  constructor(tty: boolean) {
    this.#tty = tty
  }

  update(p: Progress): void {
    if (p.validAccuracy !== undefined) this.#validAccuracy = p.validAccuracy
    if (this.#tty) {
      if (p.phase === 'done') this.clear()
      else this.#draw(p)
    } else if (p.phase === 'train' && p.validAccuracy !== undefined) {
      const parts = [
        `epoch ${p.epoch}/${p.epochs}`,
        `loss ${p.loss.toFixed(4)}`,
        `valid accuracy ${pct(p.validAccuracy)}`,
        seconds(p.elapsedS),
      ]
      process.stderr.write(`${parts.join('  ')}\n`)
    }
  }

  /** Erases the bar so that other output starts on a clean line. */
  clear(): void {
    if (this.#drawn) process.stderr.write('\r\x1b[K')
    this.#drawn = false
  }

  #draw(p: Progress): void {
    let line: string
    if (p.phase === 'prepare') {
      line = 'preparing…'
    } else if (p.phase === 'distill') {
      line = `teacher embedding the texts: ${p.step}/${p.stepsPerEpoch}  ${seconds(p.elapsedS)}`
    } else {
      const steps = Math.max(p.stepsPerEpoch, 1)
      const width = 20
      const filled = Math.min(width, Math.round((width * p.step) / steps))
      const parts = [
        `epoch ${p.epoch}/${p.epochs}`,
        `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.stepsPerEpoch}`,
        `loss ${p.loss.toFixed(4)}`,
      ]
      if (this.#validAccuracy !== undefined) parts.push(`valid ${pct(this.#validAccuracy)}`)
      parts.push(seconds(p.elapsedS))
      line = parts.join('  ')
    }
    const columns = process.stderr.columns || 80
    process.stderr.write(`\r${line.slice(0, columns - 1)}\x1b[K`)
    this.#drawn = true
  }
}

/** Fails before a long training when the model could not be written afterwards. */
function checkOutDir(out: string): void {
  const dir = dirname(resolve(out))
  let isDir = false
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    // reported below
  }
  if (!isDir) throw new ToolrouterError('IO', `cannot write ${out}: directory ${dir} does not exist`)
  let target: Stats | undefined
  try {
    target = statSync(out)
  } catch {
    // a new file
  }
  if (target?.isDirectory() === true) throw new ToolrouterError('IO', `cannot write ${out}: it is a directory`)
}

async function trainCommand(opts: TrainCliOptions): Promise<void> {
  exitWhenStdoutCloses = false
  checkOutDir(opts.out)
  const tools = await loadTools(opts.tools)
  const train = await loadExamples(opts.train, { tools })
  const valid = opts.valid === undefined ? undefined : await loadExamples(opts.valid, { tools })
  const init = opts.init === undefined ? undefined : await Router.load(opts.init)

  const json = opts.json === true
  const view = json ? undefined : new ProgressView(process.stderr.isTTY === true)
  const controller = new AbortController()
  const onProgress = (p: Progress): void => {
    // Events still queued when Ctrl-C stopped the training would land after "aborted".
    if (controller.signal.aborted) return
    if (json) writeJson({ event: 'progress', ...p })
    else view?.update(p)
  }
  const onSigint = (): void => {
    // A second Ctrl-C does not wait for the current batch.
    if (controller.signal.aborted) process.exit(EXIT_SIGINT)
    controller.abort()
  }
  process.on('SIGINT', onSigint)

  const trainer = new Trainer({
    tools,
    seed: opts.seed,
    epochs: opts.epochs,
    layers: opts.layers,
    dModel: opts.dModel,
    pretrained: opts.pretrained,
    toolSpace: opts.toolSpace,
    ...(opts.teacher === undefined ? {} : { teacher: { dir: opts.teacher } }),
  })
  const interrupted = (): Interrupted => {
    if (json) writeJson({ event: 'aborted' })
    return new Interrupted()
  }
  let router: Router
  try {
    router = await trainer.fit(train, { valid, onProgress, signal: controller.signal, init })
  } catch (e) {
    if (e instanceof ToolrouterError && e.code === 'ABORTED' && controller.signal.aborted) throw interrupted()
    throw e
  } finally {
    process.off('SIGINT', onSigint)
    view?.clear()
  }
  // Ctrl-C after the last batch: the user asked to stop, so nothing is saved.
  if (controller.signal.aborted) throw interrupted()

  await router.save(opts.out)
  const info = router.training
  if (json) {
    writeJson({
      event: 'done',
      model: resolve(opts.out),
      seconds: info.train_seconds,
      valid_accuracy: info.valid_accuracy,
      warnings: info.warnings,
    })
    return
  }
  const epochs = `${info.epochs_run} epochs, best ${info.best_epoch}`
  const validAccuracy = info.valid_accuracy === null ? 'n/a' : pct(info.valid_accuracy)
  const lines = [
    `model           ${opts.out}`,
    `training        ${seconds(info.train_seconds)} (${epochs}; ${info.examples} examples)`,
    `valid accuracy  ${validAccuracy} (${info.valid_examples} examples)`,
    ...info.warnings.map((w) => `warning: ${w}`),
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

// ---------------------------------------------------------------------------------------------
// eval
// ---------------------------------------------------------------------------------------------

interface EvalCliOptions {
  model: string
  data: string
  threshold?: number
  json?: boolean
}

function metricsSummary(m: Metrics): string {
  const lines = [
    `examples        ${m.n} (${m.n_in_scope} in scope)`,
    `accuracy        ${pct(m.accuracy)}  (in scope, best tool, no threshold)`,
    `macro F1        ${m.macro_f1.toFixed(3)}`,
  ]
  if (m.threshold !== null && m.coverage !== null && m.selective_accuracy !== null) {
    lines.push(
      `at threshold ${m.threshold.toFixed(3)}: answers ${pct(m.coverage)} of requests, ${pct(m.selective_accuracy)} of them right`,
    )
  }
  if (m.in_scope_accuracy !== undefined && m.in_scope_accuracy !== null) {
    lines.push(`in-scope acc.   ${pct(m.in_scope_accuracy)}  (at the threshold; abstaining counts as wrong)`)
  }
  if (m.oos_recall !== undefined && m.oos_recall !== null) lines.push(`oos recall      ${pct(m.oos_recall)}`)
  if (m.oos_precision !== undefined && m.oos_precision !== null) {
    lines.push(`oos precision   ${pct(m.oos_precision)}`)
  }
  if (m.ece !== null && m.ece_uncalibrated !== null) {
    lines.push(`ECE             ${m.ece.toFixed(4)}  (${m.ece_uncalibrated.toFixed(4)} before calibration)`)
  }
  const top = m.confusions.slice(0, 5)
  if (top.length > 0) {
    lines.push('top confusions (gold -> predicted):')
    const width = Math.max(...top.map((c) => String(c.count).length))
    for (const c of top) {
      lines.push(`  ${String(c.count).padStart(width)}  ${toolName(c.gold)} -> ${toolName(c.predicted)}`)
    }
  } else {
    lines.push('no confusions')
  }
  return lines.join('\n')
}

async function evalCommand(opts: EvalCliOptions): Promise<void> {
  const router = await Router.load(opts.model)
  const examples = await loadExamples(opts.data, { tools: router.tools })
  const metrics = await router.evaluate(examples, { threshold: opts.threshold })
  if (opts.json === true) writeJson(metrics)
  else process.stdout.write(`${metricsSummary(metrics)}\n`)
}

// ---------------------------------------------------------------------------------------------
// route
// ---------------------------------------------------------------------------------------------

interface RouteCliOptions {
  model: string
  threshold?: number
  json?: boolean
}

function routeLine(text: string, r: Route): string {
  const head =
    r.tool === null
      ? `— no tool (${r.reason}, ${r.confidence.toFixed(2)})  <- ${text}`
      : `${r.tool} (confidence ${r.confidence.toFixed(2)})  <- ${text}`
  const lines = [head]
  if (Object.keys(r.args).length > 0) lines.push(`    args: ${JSON.stringify(r.args)}`)
  if (r.missing.length > 0) lines.push(`    missing: ${r.missing.join(', ')}`)
  if (r.invalid.length > 0) lines.push(`    invalid: ${r.invalid.join(', ')}`)
  const alts = r.alternatives.slice(0, 3)
  if (alts.length > 0) {
    const label = r.tool === null ? 'best' : 'next'
    lines.push(`    ${label}: ${alts.map((a) => `${a.tool} ${a.confidence.toFixed(2)}`).join(', ')}`)
  }
  return lines.join('\n')
}

async function routeCommand(texts: string[], opts: RouteCliOptions): Promise<void> {
  const router = await Router.load(opts.model)
  const emit = (text: string): void => {
    const r = router.route(text, { threshold: opts.threshold })
    if (opts.json === true) writeJson({ text, ...r })
    else process.stdout.write(`${routeLine(text, r)}\n`)
  }
  if (texts.length > 0) {
    texts.forEach(emit)
    return
  }
  if (process.stdin.isTTY) process.stderr.write('reading requests from stdin, one per line (Ctrl-D to end)\n')
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false })
  for await (const line of rl) {
    const text = line.trim()
    if (text !== '') emit(text)
  }
}

// ---------------------------------------------------------------------------------------------
// add-tool
// ---------------------------------------------------------------------------------------------

interface AddToolCliOptions {
  model: string
  tool?: string
  examples?: string
  remove?: string[]
  out: string
  json?: boolean
}

async function addToolCommand(opts: AddToolCliOptions): Promise<void> {
  exitWhenStdoutCloses = false
  checkOutDir(opts.out)
  const router = await Router.load(opts.model)
  const added = opts.tool === undefined ? [] : await loadTools(opts.tool)
  const known = [...router.tools.filter((t) => !added.some((a) => a.name === t.name)), ...added]
  const examples = opts.examples === undefined ? [] : await loadExamples(opts.examples, { tools: known })
  const stray = examples.find((e) => !added.some((a) => a.name === e.tool))
  if (stray !== undefined) {
    throw new ToolrouterError('INVALID_ARGUMENT', `example "${stray.text}" is not for a tool in --tool`)
  }
  const both = (opts.remove ?? []).find((name) => added.some((a) => a.name === name))
  if (both !== undefined) {
    throw new ToolrouterError('INVALID_ARGUMENT', `--remove ${both}: that tool is also in --tool (add it or remove it, not both)`)
  }
  const timings: number[] = []
  // Added first: adding needs the router's trained tools, which a removal may have taken (a
  // two-tool model could not swap one).
  for (const spec of added) {
    const mine = examples.filter((e) => e.tool === spec.name).map((e) => e.text)
    const t0 = process.hrtime.bigint()
    router.addTool(spec, mine)
    timings.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  for (const name of opts.remove ?? []) router.removeTool(name)
  await router.save(opts.out)
  const summary = {
    out: resolve(opts.out),
    added: added.map((t, i) => ({
      name: t.name,
      examples: examples.filter((e) => e.tool === t.name).length,
      ms: timings[i],
    })),
    removed: opts.remove ?? [],
    tools: router.tools.length,
  }
  if (opts.json === true) {
    writeJson(summary)
    return
  }
  const lines = [
    ...summary.added.map((a) => `added    ${a.name} (${a.examples} examples, ${a.ms.toFixed(1)} ms)`),
    ...summary.removed.map((n) => `removed  ${n}`),
    `tools    ${summary.tools}, written to ${opts.out}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

// ---------------------------------------------------------------------------------------------
// distill
// ---------------------------------------------------------------------------------------------

interface DistillCliOptions {
  traces: string
  format: TraceFormat
  out: string
  json?: boolean
}

function traceFormat(value: string): TraceFormat {
  if (!TRACE_FORMATS.includes(value as TraceFormat)) {
    throw new InvalidArgumentError(`expected one of ${TRACE_FORMATS.join(', ')}`)
  }
  return value as TraceFormat
}

async function distillCommand(opts: DistillCliOptions): Promise<void> {
  exitWhenStdoutCloses = false
  checkOutDir(opts.out)
  let text: string
  try {
    text = readFileSync(opts.traces, 'utf8')
  } catch (e) {
    throw new ToolrouterError('IO', `cannot read ${opts.traces}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const r = readTraces(text, { format: opts.format, source: opts.traces })
  const lines = r.examples.map((e) => JSON.stringify(e))
  try {
    writeFileSync(opts.out, lines.length > 0 ? `${lines.join('\n')}\n` : '')
  } catch (e) {
    throw new ToolrouterError('IO', `cannot write ${opts.out}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const tools: Record<string, number> = {}
  for (const e of r.examples) tools[toolName(e.tool)] = (tools[toolName(e.tool)] ?? 0) + 1
  const withTool = r.examples.filter((e) => e.tool !== null).length
  if (opts.json === true) {
    writeJson({
      out: resolve(opts.out),
      records: r.records,
      examples: r.examples.length,
      with_tool: withTool,
      no_tool: r.examples.length - withTool,
      skipped: r.skipped,
      duplicates: r.duplicates,
      tools,
    })
    return
  }
  const out = [
    `examples        ${r.examples.length} written to ${opts.out} (${withTool} with a tool, ${r.examples.length - withTool} without)`,
    `records         ${r.records} read, ${r.skipped} without an LLM answer, ${r.duplicates} repeated`,
    ...Object.entries(tools)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `  ${String(n).padStart(5)}  ${name}`),
  ]
  process.stdout.write(`${out.join('\n')}\n`)
}

// ---------------------------------------------------------------------------------------------
// Program
// ---------------------------------------------------------------------------------------------

function buildProgram(): Command {
  const program = new Command()
  program
    .name('toolrouter')
    .description(
      'Route agent requests to tools with a small attention model trained from examples; ' +
        'it abstains (no tool) when unsure so the LLM can decide.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)

  program
    .command('train')
    .description('train a router on JSONL examples and save it to one model file')
    .requiredOption('--train <file>', 'training examples (JSONL, one {"text","tool","args"?,"spans"?} a line)')
    .requiredOption('--tools <file>', 'tool definitions (JSON array of {"name","description","parameters"})')
    .option('--valid <file>', 'validation examples for early stopping (default: a held-out share of --train)')
    .option('--init <model>', 'continue from this model: keep its tools and weights, add the new ones, replay its kept examples')
    .requiredOption('--out <model>', 'where to write the model file')
    .option('--seed <n>', 'random seed, for reproducible runs (default 42)', integer(0))
    .option('--epochs <n>', 'upper bound on epochs; early stopping usually ends sooner (default: auto, about 3000 steps)', integer(1))
    .option('--layers <n>', 'transformer layers; 0 keeps only the n-gram features (default 2)', integer(0))
    .option('--d-model <n>', 'width of the transformer (default 64)', integer(1))
    .option('--pretrained <table>', "start from a static word table: 'minilm' or 'none' (default minilm)", pretrainedTable)
    .option(
      '--teacher <dir>',
      "distil this sentence encoder into the router while training (all-MiniLM-L6-v2: scripts/fetch-minilm.sh puts it in .cache/minilm); also trains on the labels alone and keeps the better",
    )
    .option('--tool-space', 'also train the tool encoder that `add-tool` uses (about a minute more on CLINC150)')
    .option('--json', 'print one JSON object a line on stdout: progress events, then a "done" event')
    .addHelpText(
      'after',
      `
Example:
  $ toolrouter train --train data/demo/train.jsonl --tools data/demo/tools.json --out demo.trm
  $ toolrouter train --train train.jsonl --valid valid.jsonl --tools tools.json --out m.trm --epochs 10 --json
  $ toolrouter train --init m.trm --train distilled.jsonl --tools tools.json --out m2.trm`,
    )
    .action((opts: TrainCliOptions) => trainCommand(opts))

  program
    .command('eval')
    .description('score a model on labelled JSONL examples')
    .requiredOption('--model <model>', 'model file written by `toolrouter train`')
    .requiredOption('--data <file>', 'labelled examples (JSONL), with tools the model knows or null')
    .option('--threshold <p>', "confidence threshold in [0, 1] (default: the model's calibrated one)", probability)
    .option('--json', 'print the metrics as one JSON object on stdout')
    .addHelpText(
      'after',
      `
Example:
  $ toolrouter eval --model demo.trm --data data/demo/test.jsonl
  $ toolrouter eval --model demo.trm --data data/demo/test.jsonl --json | jq .macro_f1`,
    )
    .action((opts: EvalCliOptions) => evalCommand(opts))

  program
    .command('route')
    .description('route requests given as arguments, or read from stdin one a line')
    .argument('[text...]', 'requests to route; without any, reads stdin')
    .requiredOption('--model <model>', 'model file written by `toolrouter train`')
    .option('--threshold <p>', "confidence threshold in [0, 1] (default: the model's calibrated one)", probability)
    .option('--json', 'print one JSON object a line: {"text", "tool", "confidence", "alternatives", "args", ...}')
    .addHelpText(
      'after',
      `
Example:
  $ toolrouter route --model demo.trm 'will it rain in Oslo tomorrow?' 'play some jazz'
  $ cat requests.txt | toolrouter route --model demo.trm --json`,
    )
    .action((texts: string[], opts: RouteCliOptions) => routeCommand(texts, opts))

  program
    .command('add-tool')
    .description('add tools to a trained model without retraining (from their descriptions and a few examples), or remove some')
    .requiredOption('--model <model>', 'model file written by `toolrouter train`')
    .option('--tool <file>', 'the tools to add: a JSON array of {name, description, parameters} (OpenAI form accepted)')
    .option('--examples <file>', 'a few requests for the new tools: JSONL, one {"text", "tool"} a line')
    .option('--remove <name...>', 'tools to remove')
    .requiredOption('--out <file>', 'where to write the changed model')
    .option('--json', 'print a summary as one JSON object on stdout')
    .addHelpText(
      'after',
      `
Example:
  $ toolrouter add-tool --model demo.trm --tool new-tools.json --examples new.jsonl --out demo2.trm
  $ toolrouter add-tool --model demo2.trm --remove book_flight --out demo3.trm`,
    )
    .action((opts: AddToolCliOptions) => addToolCommand(opts))

  program
    .command('distill')
    .description('turn recorded LLM traffic (requests and responses with tool calls) into training examples')
    .requiredOption('--traces <file>', 'recorded requests and responses: a JSON array or JSONL, one record a line')
    .requiredOption('--format <format>', `the API the records come from: ${TRACE_FORMATS.join(', ')}`, traceFormat)
    .requiredOption('--out <file>', 'where to write the examples (JSONL, one {"text","tool","args","spans"?} a line)')
    .option('--json', 'print a summary as one JSON object on stdout')
    .addHelpText(
      'after',
      `
Each record gives one example: the last user message as text, the tool the LLM called first after
it (with its arguments, spans located in the text), or "tool": null when it called none.
Records: {"request": {...}, "response": {...}} as sent and received, or {"messages": [...]}.

Example:
  $ toolrouter distill --traces chat-log.jsonl --format openai --out distilled.jsonl
  $ toolrouter distill --traces steps.json --format ai-sdk --out distilled.jsonl --json | jq .examples`,
    )
    .action((opts: DistillCliOptions) => distillCommand(opts))

  return program
}

function report(code: string, message: string): void {
  process.stderr.write(`toolrouter: ${code}: ${message}\n`)
}

async function main(argv: string[]): Promise<number> {
  // `toolrouter route ... | head` closes stdout early: stop quietly; a training still saves its model.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e
    stdoutClosed = true
    if (exitWhenStdoutCloses) process.exit(EXIT_OK)
  })
  try {
    await buildProgram().parseAsync(argv)
    return EXIT_OK
  } catch (e) {
    // Commander has printed its message (or the help) already.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    if (e instanceof Interrupted) {
      process.stderr.write('aborted\n')
      return EXIT_SIGINT
    }
    if (e instanceof ToolrouterError) {
      report(e.code, e.message)
      return DATA_CODES.has(e.code) ? EXIT_DATA : EXIT_OTHER
    }
    process.stderr.write(`toolrouter: ${e instanceof Error ? e.message : String(e)}\n`)
    return EXIT_OTHER
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`toolrouter: ${String(e)}\n`)
    process.exitCode = EXIT_OTHER
  },
)
