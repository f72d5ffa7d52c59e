/**
 * The `toolrouter` command, run as a child process (`node cli.js ...`): run `npx tsc` first.
 *
 * This file has no `import` statements on purpose. The package is CommonJS (no `"type": "module"`), so
 * `@oxc-node/core/register` hands a `.ts` file to Node's CommonJS loader, and on Node 20 a file that still
 * has `import` syntax then fails with ERR_REQUIRE_CYCLE_MODULE. `load` works whether this file ends up
 * running as CommonJS or as an ES module.
 */
const load: NodeJS.Require =
  typeof require === 'function'
    ? require
    : process.getBuiltinModule('node:module').createRequire(`${process.cwd()}/package.json`)

const test: typeof import('ava').default = load('ava')
const { spawn }: typeof import('node:child_process') = load('node:child_process')
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync }: typeof import('node:fs') = load('node:fs')
const { tmpdir }: typeof import('node:os') = load('node:os')
const { join, resolve }: typeof import('node:path') = load('node:path')

type ExecutionContext = import('ava').ExecutionContext

// AVA runs test files with the package root as the working directory.
const ROOT = process.cwd()
const CLI = resolve(ROOT, 'cli.js')
const DEMO = resolve(ROOT, 'data/demo')
const TRAIN = join(DEMO, 'train.jsonl')
const TEST = join(DEMO, 'test.jsonl')
const TOOLS = join(DEMO, 'tools.json')
/** Enough to get a model file quickly where its accuracy does not matter. */
const QUICK = ['--epochs', '3', '--layers', '0']

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the compiled CLI with `node`, feeding `input` to its stdin. */
function cli(args: string[], opts: { input?: string; cwd?: string } = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: 'pipe' })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
    child.stdin.end(opts.input ?? '')
  })
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** A temporary directory removed when the test ends. */
function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolrouter-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function trainQuick(t: ExecutionContext, dir: string): Promise<string> {
  const model = join(dir, 'quick.trm')
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', model, ...QUICK])
  t.is(r.code, 0, r.stderr)
  return model
}

// One model trained with the default settings, shared by the tests that need a good one.
let sharedDir = ''
let goodModel = ''

test.before(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc\` first`)
  sharedDir = mkdtempSync(join(tmpdir(), 'toolrouter-cli-shared-'))
  goodModel = join(sharedDir, 'demo.trm')
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', goodModel])
  if (r.code !== 0) throw new Error(`training the shared model failed (${r.code}): ${r.stderr}`)
})

test.after.always(() => {
  if (sharedDir !== '') rmSync(sharedDir, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------------------------

test('train --json prints progress events and a done event and writes the model', async (t) => {
  const dir = tempDir(t)
  const model = join(dir, 'model.trm')
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', model, '--json', ...QUICK])
  t.is(r.code, 0, r.stderr)
  const events = jsonLines(r.stdout)
  const progress = events.filter((e) => e.event === 'progress')
  t.true(progress.length >= 3)
  t.true(progress.some((p) => p.phase === 'train' && typeof p.loss === 'number' && p.stepsPerEpoch !== undefined))
  t.true(progress.some((p) => p.phase === 'train' && typeof p.validAccuracy === 'number'))
  const last = events[events.length - 1]
  t.is(last.event, 'done')
  t.is(last.model, model)
  t.is(typeof last.seconds, 'number')
  t.is(typeof last.valid_accuracy, 'number')
  // Three epochs of the n-gram bag are unsure of everything: the threshold's warning says so.
  t.true((last.warnings as string[]).every((w) => /target precision/.test(w)), JSON.stringify(last.warnings))
  t.true(existsSync(model))
})

test('train --out naming a directory fails before training (exit 2)', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', dir, '--json', ...QUICK])
  t.is(r.code, 2)
  t.regex(r.stderr, /IO: .* is a directory/)
  t.is(r.stdout, '', 'no training ran')
})

test('train --json whose reader stops early still writes its model', async (t) => {
  const dir = tempDir(t)
  const model = join(dir, 'm.trm')
  const code = await new Promise<number | null>((done, fail) => {
    const args = [CLI, 'train', '--train', TRAIN, '--tools', TOOLS, '--out', model, '--json', '--epochs', '6']
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    // As `| head -1`: the pipe closes after the first line.
    child.stdout.once('data', () => child.stdout.destroy())
    child.on('error', fail)
    child.on('close', done)
  })
  t.is(code, 0)
  t.true(existsSync(model))
})

test('train --init continues from a model file and writes a new one', async (t) => {
  const dir = tempDir(t)
  const base = await trainQuick(t, dir)
  const next = join(dir, 'next.trm')
  const r = await cli(['train', '--init', base, '--train', TEST, '--tools', TOOLS, '--out', next, '--json', ...QUICK])
  t.is(r.code, 0, r.stderr)
  t.is(jsonLines(r.stdout).at(-1)?.event, 'done')
  // Threshold 0: a 3-epoch model is rightly unsure (about 0.45 here); the best tool is what counts.
  const routed = await cli(['route', '--model', next, '--json', '--threshold', '0', 'will it rain in Oslo tomorrow?'])
  t.is(routed.code, 0, routed.stderr)
  t.is(jsonLines(routed.stdout)[0].tool, 'get_weather')
  const missing = await cli(['train', '--init', join(dir, 'nope.trm'), '--train', TEST, '--tools', TOOLS, '--out', next])
  t.is(missing.code, 2)
  t.regex(missing.stderr, /MODEL_NOT_FOUND/)
})

test('train prints one line per epoch on stderr and a summary on stdout when not on a terminal', async (t) => {
  const dir = tempDir(t)
  const model = join(dir, 'model.trm')
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', model, ...QUICK])
  t.is(r.code, 0, r.stderr)
  const epochLines = r.stderr.split('\n').filter((l) => l.startsWith('epoch '))
  t.is(epochLines.length, 3)
  t.false(r.stderr.includes('\r'))
  t.regex(r.stdout, /model\s+.*model\.trm/)
  t.regex(r.stdout, /valid accuracy\s+\d+\.\d%/)
  t.true(existsSync(model))
})

test('train names the file and line of an example whose tool is not in the tools file', async (t) => {
  const dir = tempDir(t)
  const data = join(dir, 'train.jsonl')
  const lines = ['{"text": "play some jazz", "tool": "play_music"}', '{"text": "fly me to the moon", "tool": "fly"}']
  writeFileSync(data, `${lines.join('\n')}\n`)
  const r = await cli(['train', '--train', data, '--tools', TOOLS, '--out', join(dir, 'm.trm'), ...QUICK])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: DATASET_INVALID: .*train\.jsonl:2:/m)
})

test('train stops on SIGINT, prints "aborted", writes no model and exits 130', async (t) => {
  const dir = tempDir(t)
  const model = join(dir, 'model.trm')
  const child = spawn(
    process.execPath,
    [CLI, 'train', '--train', TRAIN, '--tools', TOOLS, '--out', model, '--epochs', '200', '--json'],
    { stdio: 'pipe' },
  )
  let stderr = ''
  let stdout = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s
    // Interrupt once training has started.
    if (stdout.includes('"phase":"train"') && !child.killed) child.kill('SIGINT')
  })
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)))
  t.is(code, 130, stderr)
  t.regex(stderr, /aborted/)
  t.is(jsonLines(stdout).pop()?.event, 'aborted')
  t.false(existsSync(model))
})

// ---------------------------------------------------------------------------------------------
// eval
// ---------------------------------------------------------------------------------------------

test('eval --json prints one metrics object and a default model scores above 0.5', async (t) => {
  const r = await cli(['eval', '--model', goodModel, '--data', TEST, '--json'])
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  t.is(lines.length, 1)
  const metrics = JSON.parse(lines[0]) as Record<string, unknown>
  t.is(metrics.n, 249)
  t.is(typeof metrics.macro_f1, 'number')
  t.is(typeof metrics.accuracy, 'number')
  t.true((metrics.accuracy as number) > 0.5)
})

test('eval prints a readable summary with accuracy, macro F1 and out-of-scope recall', async (t) => {
  const r = await cli(['eval', '--model', goodModel, '--data', TEST])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /examples\s+249/)
  t.regex(r.stdout, /accuracy\s+\d+\.\d%/)
  t.regex(r.stdout, /macro F1\s+0\.\d{3}/)
  t.regex(r.stdout, /oos recall/)
})

test('eval --threshold scores the decisions at that threshold; the summary shows coverage and ECE', async (t) => {
  const all = await cli(['eval', '--model', goodModel, '--data', TEST, '--json', '--threshold', '0'])
  const none = await cli(['eval', '--model', goodModel, '--data', TEST, '--json', '--threshold', '1'])
  t.is(all.code, 0, all.stderr)
  t.is(none.code, 0, none.stderr)
  const [a, n] = [JSON.parse(all.stdout) as Record<string, number>, JSON.parse(none.stdout) as Record<string, number>]
  t.is(a.threshold, 0)
  t.is(n.threshold, 1)
  t.true(a.coverage > n.coverage, `coverage ${a.coverage} at 0, ${n.coverage} at 1`)
  t.is(a.accuracy, n.accuracy, 'accuracy scores the best tool, whatever the threshold')
  const text = await cli(['eval', '--model', goodModel, '--data', TEST])
  t.regex(text.stdout, /at threshold 0\.\d{3}: answers \d+\.\d% of requests, \d+\.\d% of them right/)
  t.regex(text.stdout, /ECE\s+0\.\d{4}\s+\(0\.\d{4} before calibration\)/)
})

test('--threshold outside [0, 1] is a usage error (exit 1)', async (t) => {
  for (const args of [
    ['eval', '--model', goodModel, '--data', TEST, '--threshold', '2'],
    ['route', '--model', goodModel, '--threshold', 'x', 'hi'],
  ]) {
    const r = await cli(args)
    t.is(r.code, 1, r.stderr)
    t.regex(r.stderr, /threshold/)
  }
})

test('route --threshold 1 abstains with low_confidence and names the best tools', async (t) => {
  const r = await cli(['route', '--model', goodModel, '--threshold', '1', 'will it rain in Oslo tomorrow?'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^— no tool \(low_confidence, [01]\.\d\d\)/m)
  t.regex(r.stdout, /best: get_weather/)
})

// ---------------------------------------------------------------------------------------------
// route
// ---------------------------------------------------------------------------------------------

test('route --json prints one object per TEXT argument with its text and tool', async (t) => {
  const texts = ['will it rain in Oslo tomorrow?', 'play some jazz']
  const r = await cli(['route', '--model', goodModel, '--json', ...texts])
  t.is(r.code, 0, r.stderr)
  const routes = jsonLines(r.stdout)
  const seen = routes.map((x) => x.text)
  t.deepEqual(seen, texts)
  t.is(routes[0].tool, 'get_weather')
  t.is(routes[1].tool, 'play_music')
  t.is(typeof routes[0].confidence, 'number')
  t.true(Array.isArray(routes[0].alternatives))
})

test('route reads requests from stdin one a line and skips empty lines', async (t) => {
  const input = 'will it rain in Oslo tomorrow?\n\n   \nplay some jazz\r\n'
  const r = await cli(['route', '--model', goodModel, '--json'], { input })
  t.is(r.code, 0, r.stderr)
  const routes = jsonLines(r.stdout)
  const seen = routes.map((x) => x.text)
  t.deepEqual(seen, ['will it rain in Oslo tomorrow?', 'play some jazz'])
  for (const route of routes) t.true('tool' in route)
  t.is(routes[0].tool, 'get_weather')
})

test('route prints the tool, its confidence and the request without --json', async (t) => {
  const r = await cli(['route', '--model', goodModel, 'will it rain in Oslo tomorrow?'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^get_weather \(confidence [01]\.\d\d\) {2}<- will it rain in Oslo tomorrow\?$/m)
})

test('route works with a quickly trained model', async (t) => {
  const model = await trainQuick(t, tempDir(t))
  const r = await cli(['route', '--model', model, '--json', 'send an email to Ana'])
  t.is(r.code, 0, r.stderr)
  const [route] = jsonLines(r.stdout)
  t.is(route.text, 'send an email to Ana')
  t.true('tool' in route)
})

// ---------------------------------------------------------------------------------------------
// add-tool
// ---------------------------------------------------------------------------------------------

test('add-tool writes a model with the new tools, removes others, and route uses it', async (t) => {
  const dir = tempDir(t)
  const model = await trainQuick(t, dir)
  const tools = join(dir, 'new-tools.json')
  writeFileSync(
    tools,
    JSON.stringify([
      { name: 'set_alarm', description: 'Wake the user up at a clock time.' },
      { name: 'order_pizza', description: 'Order a pizza for delivery.' },
    ]),
  )
  const examples = join(dir, 'new.jsonl')
  writeFileSync(
    examples,
    ['wake me up at 6am', 'set an alarm for 7'].map((text) => JSON.stringify({ text, tool: 'set_alarm' })).join('\n'),
  )
  const out = join(dir, 'more.trm')
  const r = await cli(['add-tool', '--model', model, '--tool', tools, '--examples', examples, '--remove', 'search_web', '--out', out, '--json'])
  t.is(r.code, 0, r.stderr)
  const [summary] = jsonLines(r.stdout)
  t.deepEqual(
    (summary.added as { name: string; examples: number }[]).map((a) => [a.name, a.examples]),
    [
      ['set_alarm', 2],
      ['order_pizza', 0],
    ],
  )
  t.deepEqual(summary.removed, ['search_web'])
  t.is(summary.tools, 15)
  const routed = await cli(['route', '--model', out, '--json', '--threshold', '0', 'wake me up at 6am'])
  t.is(routed.code, 0, routed.stderr)
  const [route] = jsonLines(routed.stdout)
  const names = [route.tool, ...(route.alternatives as { tool: string }[]).map((a) => a.tool)]
  t.false(names.includes('search_web'))
})

test('add-tool adds before it removes: all but one trained tool can be swapped out', async (t) => {
  const dir = tempDir(t)
  const model = await trainQuick(t, dir)
  const names = (JSON.parse(readFileSync(TOOLS, 'utf8')) as { name: string }[]).map((x) => x.name)
  const tools = join(dir, 'new-tools.json')
  writeFileSync(tools, JSON.stringify([{ name: 'set_alarm', description: 'Wake the user up at a clock time.' }]))
  const out = join(dir, 'two.trm')
  const r = await cli(['add-tool', '--model', model, '--tool', tools, '--remove', ...names.slice(1), '--out', out, '--json'])
  t.is(r.code, 0, r.stderr)
  t.is(jsonLines(r.stdout)[0].tools, 2)
})

/** A tools file in `dir` with one new tool, `set_alarm`; returns its path. */
function alarmToolFile(dir: string): string {
  const file = join(dir, 'new-tools.json')
  writeFileSync(file, JSON.stringify([{ name: 'set_alarm', description: 'Wake the user up.' }]))
  return file
}

test('add-tool refuses a name given to both --tool and --remove', async (t) => {
  const dir = tempDir(t)
  const model = await trainQuick(t, dir)
  const tools = alarmToolFile(dir)
  const out = join(dir, 'x.trm')
  // It used to report set_alarm removed and keep it.
  const r = await cli(['add-tool', '--model', model, '--tool', tools, '--remove', 'set_alarm', '--out', out, '--json'])
  t.is(r.code, 2)
  t.regex(r.stderr, /INVALID_ARGUMENT.*set_alarm/)
  t.false(existsSync(out))
})

test('add-tool with an example for a tool it does not add exits 2', async (t) => {
  const dir = tempDir(t)
  const model = await trainQuick(t, dir)
  const tools = alarmToolFile(dir)
  const examples = join(dir, 'new.jsonl')
  writeFileSync(examples, JSON.stringify({ text: 'play jazz', tool: 'play_music' }))
  const r = await cli(['add-tool', '--model', model, '--tool', tools, '--examples', examples, '--out', join(dir, 'x.trm')])
  t.is(r.code, 2)
  t.regex(r.stderr, /INVALID_ARGUMENT/)
  t.false(existsSync(join(dir, 'x.trm')))
})

// ---------------------------------------------------------------------------------------------
// version, help, usage errors
// ---------------------------------------------------------------------------------------------

test('--version prints the version of package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const r = await cli(['--version'])
  t.is(r.code, 0)
  t.is(r.stdout.trim(), pkg.version)
})

test('--help documents the commands and the exit codes', async (t) => {
  const r = await cli(['--help'])
  t.is(r.code, 0)
  for (const word of ['train', 'eval', 'route', 'Exit codes', '130']) t.true(r.stdout.includes(word), word)
})

for (const command of ['train', 'eval', 'route', 'add-tool']) {
  test(`${command} --help shows an example`, async (t) => {
    const r = await cli([command, '--help'])
    t.is(r.code, 0)
    t.true(r.stdout.includes('Example'))
    t.true(r.stdout.includes(`toolrouter ${command} `))
  })
}

test('an unknown option is a usage error with exit code 1', async (t) => {
  const r = await cli(['eval', '--model', 'm.trm', '--data', TEST, '--frobnicate'])
  t.is(r.code, 1)
  t.regex(r.stderr, /unknown option '--frobnicate'/)
})

test('an unknown command is a usage error with exit code 1', async (t) => {
  const r = await cli(['fly'])
  t.is(r.code, 1)
  t.regex(r.stderr, /unknown command 'fly'/)
})

test('a missing required option is a usage error with exit code 1', async (t) => {
  const r = await cli(['eval', '--data', TEST])
  t.is(r.code, 1)
  t.regex(r.stderr, /--model/)
})

test('a malformed number is a usage error with exit code 1', async (t) => {
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', 'm.trm', '--epochs', 'many'])
  t.is(r.code, 1)
  t.regex(r.stderr, /--epochs/)
})

// ---------------------------------------------------------------------------------------------
// bad data and models
// ---------------------------------------------------------------------------------------------

test('a missing model file exits 2 with MODEL_NOT_FOUND', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['route', '--model', join(dir, 'absent.trm'), 'hello'])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: MODEL_NOT_FOUND: /m)
})

test('train --teacher with no teacher there exits 2 with MODEL_NOT_FOUND naming the file', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', join(dir, 'm.trm'), ...QUICK, '--teacher', join(dir, 'none')])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: MODEL_NOT_FOUND: .*config\.json/m)
  t.false(existsSync(join(dir, 'm.trm')))
})

test('a JSONL file with an invalid line exits 2 and names the line', async (t) => {
  const dir = tempDir(t)
  const data = join(dir, 'bad.jsonl')
  writeFileSync(data, '{"text": "play some jazz", "tool": "play_music"}\n{"text": "oops",\n')
  const r = await cli(['eval', '--model', goodModel, '--data', data])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: DATASET_INVALID: /m)
  t.true(r.stderr.includes('bad.jsonl:2:'), r.stderr)
})

test('a corrupt model file exits 2 with MODEL_INVALID', async (t) => {
  const dir = tempDir(t)
  const model = join(dir, 'corrupt.trm')
  // Deterministic junk: a fixed pseudo-random byte sequence.
  const bytes = Buffer.alloc(4096)
  let x = 12345
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    bytes[i] = x >>> 24
  }
  writeFileSync(model, bytes)
  const r = await cli(['eval', '--model', model, '--data', TEST])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: MODEL_INVALID: /m)
})

test('an output directory that does not exist exits 2 before training', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['train', '--train', TRAIN, '--tools', TOOLS, '--out', join(dir, 'no/such/dir/m.trm')])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: IO: /m)
  t.is(r.stdout, '')
})
