/**
 * Distillation from the command line and the example loop: `toolrouter distill` turns a recorded
 * traces file into examples, and `examples/distill-loop.js` (small settings) runs its rounds.
 * Run `npx tsc` first: these run the compiled `cli.js` and example.
 */
import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fixture, tempDir } from './helpers.ts'

const ROOT = process.cwd()

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function run(file: string, args: string[]): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [path.join(ROOT, file), ...args], { cwd: ROOT, stdio: 'pipe' })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
    child.stdin.end()
  })
}

function readJsonl(file: string): unknown[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown)
}

function outFile(t: ExecutionContext): string {
  return path.join(tempDir(t), 'distilled.jsonl')
}

test('distill writes one example a decision, and a JSON summary with --json', async (t) => {
  const out = outFile(t)
  const r = await run('cli.js', [
    'distill',
    '--traces',
    fixture('traces-openai.jsonl'),
    '--format',
    'openai',
    '--out',
    out,
    '--json',
  ])
  t.is(r.code, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout), {
    out,
    records: 5,
    examples: 3,
    with_tool: 2,
    no_tool: 1,
    skipped: 1,
    duplicates: 1,
    tools: { play_music: 1, get_weather: 1, '(no tool)': 1 },
  })
  t.deepEqual(readJsonl(out), [
    {
      text: 'put on some Miles Davis',
      tool: 'play_music',
      args: { query: 'Miles Davis' },
      spans: [{ name: 'query', start: 12, end: 23 }],
    },
    {
      text: 'is it cold in Reykjavik today?',
      tool: 'get_weather',
      args: { city: 'Reykjavik', date: 'today' },
      spans: [
        { name: 'city', start: 14, end: 23 },
        { name: 'date', start: 24, end: 29 },
      ],
    },
    { text: 'write me a limerick about a cat', tool: null, args: {} },
  ])
})

test('distill prints a readable summary', async (t) => {
  const r = await run('cli.js', [
    'distill',
    '--traces',
    fixture('traces-openai.jsonl'),
    '--format',
    'openai',
    '--out',
    outFile(t),
  ])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^examples {8}3 written to .* \(2 with a tool, 1 without\)$/m)
  t.regex(r.stdout, /^records {9}5 read, 1 without an LLM answer, 1 repeated$/m)
})

test('distill: an unknown format is a usage error (1), a broken file a data error (2) naming the line', async (t) => {
  const dir = tempDir(t)
  const bad = await run('cli.js', [
    'distill',
    '--traces',
    fixture('traces-openai.jsonl'),
    '--format',
    'gemini',
    '--out',
    path.join(dir, 'x.jsonl'),
  ])
  t.is(bad.code, 1)
  t.regex(bad.stderr, /expected one of openai, openai-responses, anthropic, ai-sdk/)
  const broken = path.join(dir, 'broken.jsonl')
  fs.writeFileSync(broken, '{"messages":[]}\n{oops\n')
  const r = await run('cli.js', [
    'distill',
    '--traces',
    broken,
    '--format',
    'openai',
    '--out',
    path.join(dir, 'y.jsonl'),
  ])
  t.is(r.code, 2)
  t.regex(r.stderr, /^toolrouter: DATASET_INVALID: .*broken\.jsonl:2: invalid JSON/)
  const missing = await run('cli.js', [
    'distill',
    '--traces',
    path.join(dir, 'none.jsonl'),
    '--format',
    'openai',
    '--out',
    path.join(dir, 'z.jsonl'),
  ])
  t.is(missing.code, 2)
  t.regex(missing.stderr, /^toolrouter: IO: cannot read/)
})

test('distill --help shows an example', async (t) => {
  const r = await run('cli.js', ['distill', '--help'])
  t.is(r.code, 0)
  t.regex(r.stdout, /toolrouter distill --traces chat-log\.jsonl --format openai --out distilled\.jsonl/)
})

test('the distillation loop example runs its rounds and learns from the LLM', async (t) => {
  const r = await run('examples/distill-loop.js', [
    '--per-tool',
    '3',
    '--rounds',
    '3',
    '--batch',
    '60',
    '--epochs',
    '10',
    '--json',
  ])
  t.is(r.code, 0, r.stderr)
  const { rounds } = JSON.parse(r.stdout) as {
    rounds: Array<{
      round: number
      trainedOn: number
      traffic: number
      localShare: number
      llmCalls: number
      testAccuracy: number
    }>
  }
  t.is(rounds.length, 3)
  t.is(rounds[0].trainedOn, 45, '3 examples for each of 14 tools and "no tool"')
  for (let i = 1; i < rounds.length; i++) {
    // Every request the router left to the LLM became an example.
    t.is(
      rounds[i].trainedOn,
      rounds[i - 1].trainedOn + rounds[i - 1].traffic - Math.round(rounds[i - 1].localShare * rounds[i - 1].traffic),
    )
  }
  t.true(
    rounds[2].testAccuracy > rounds[0].testAccuracy,
    `test accuracy ${rounds[0].testAccuracy} -> ${rounds[2].testAccuracy}`,
  )
  t.true(rounds[2].localShare >= rounds[0].localShare, `local share ${rounds[0].localShare} -> ${rounds[2].localShare}`)
})
