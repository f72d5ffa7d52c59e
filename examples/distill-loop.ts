// The distillation loop, simulated on the bundled demo data: a router trained on a few examples
// per tool sits in front of an "LLM" (a mock that answers from the labelled data); each round,
// a batch of requests goes through the cascade, the LLM's decisions on the requests the router
// left to it become new training examples, and the router is retrained. Prints how the share of
// local decisions and the accuracy move over the rounds.
//
//   node examples/distill-loop.js [--per-tool 5] [--rounds 4] [--batch 120] [--epochs N] [--seed 1] [--from-scratch] [--word-shapes] [--json]
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { Cascade, loadExamples, loadTools, Trainer, type Example, type Router, type ToolExecutors } from '../index'
import { labelledLlm } from './labelled-llm'

/** A seeded shuffle (mulberry32), so that runs repeat. */
function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

interface Round {
  round: number
  trainedOn: number
  trainSeconds: number
  testAccuracy: number
  testAnswered: number | null
  traffic: number
  localShare: number
  localAccuracy: number | null
  llmCalls: number
  tokensSaved: number
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'per-tool': { type: 'string', default: '5' },
      rounds: { type: 'string', default: '4' },
      batch: { type: 'string', default: '120' },
      epochs: { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'from-scratch': { type: 'boolean', default: false },
      'word-shapes': { type: 'boolean', default: false },
    },
  })
  const fromScratch = values['from-scratch']
  const perTool = Number(values['per-tool'])
  const rounds = Number(values.rounds)
  const batch = Number(values.batch)
  const seed = Number(values.seed)
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs)

  const dir = path.join(__dirname, '..', 'data', 'demo')
  const tools = await loadTools(path.join(dir, 'tools.json'))
  const all = shuffle(await loadExamples(path.join(dir, 'train.jsonl'), { tools }), seed)
  const test = await loadExamples(path.join(dir, 'test.jsonl'), { tools })

  // Start: `perTool` examples of each tool (and of "no tool"); the rest is the traffic to come.
  const taken = new Map<string | null, number>()
  const known: Example[] = []
  const pool: Example[] = []
  for (const ex of all) {
    const n = taken.get(ex.tool) ?? 0
    if (n < perTool) {
      taken.set(ex.tool, n + 1)
      known.push(ex)
    } else pool.push(ex)
  }
  const labels = new Map(pool.map((e) => [e.text, e]))
  const execute: ToolExecutors = Object.fromEntries(tools.map((t) => [t.name, () => ({ ok: true })]))

  if (!values.json) {
    console.log(
      `Start: ${known.length} examples (${perTool} per tool and for "no tool"), ${pool.length} requests of traffic to come.`,
    )
    console.log('round  trained on  test acc.  test answered  traffic  local  local right  LLM calls  tokens saved')
  }
  const out: Round[] = []
  let router: Router | undefined
  let fresh: Example[] = []
  for (let round = 1; round <= rounds; round++) {
    const t0 = performance.now()
    // Round 1 trains from zero; later rounds continue from the last router on what the LLM
    // decided since (the model file replays a sample of the older examples), or, with
    // --from-scratch, retrain on everything known so far.
    const trainer = new Trainer({ tools, seed, epochs, wordShapes: values['word-shapes'] })
    router =
      router === undefined || fromScratch ? await trainer.fit(known) : await trainer.fit(fresh, { init: router })
    const trainSeconds = (performance.now() - t0) / 1000
    const m = await router.evaluate(test)

    // A batch of traffic through the cascade; the LLM's decisions are the next training examples.
    const cascade = new Cascade({ router, tools: execute, llm: labelledLlm(labels), shortlist: 5 })
    const traffic = pool.slice((round - 1) * batch, round * batch)
    let localRight = 0
    for (const ex of traffic) {
      const r = await cascade.run([{ role: 'user' as const, content: ex.text }], { toolResultsOnly: true })
      if (r.decision === 'local' && r.calls[0]?.tool === ex.tool) localRight++
    }
    const s = cascade.stats()
    const row: Round = {
      round,
      trainedOn: known.length,
      trainSeconds,
      testAccuracy: m.accuracy,
      testAnswered: m.coverage,
      traffic: traffic.length,
      localShare: s.localShare,
      localAccuracy: s.local === 0 ? null : localRight / s.local,
      llmCalls: s.llmCalls,
      tokensSaved: s.tokensSaved,
    }
    out.push(row)
    fresh = cascade.examples()
    known.push(...fresh)
    if (!values.json) {
      const pct = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(1)}%`)
      console.log(
        [
          String(round).padStart(5),
          String(row.trainedOn).padStart(10),
          pct(row.testAccuracy).padStart(9),
          pct(row.testAnswered).padStart(13),
          String(row.traffic).padStart(7),
          pct(row.localShare).padStart(6),
          pct(row.localAccuracy).padStart(11),
          String(row.llmCalls).padStart(9),
          String(row.tokensSaved).padStart(12),
        ].join('  '),
      )
    }
  }
  if (values.json) console.log(JSON.stringify({ rounds: out }))
  else {
    console.log(
      'test acc.: best tool on data/demo/test.jsonl (in scope); test answered: share the router answers at its threshold;\n' +
        'local: share of the round’s traffic run without the LLM, local right: of those, the right tool;\n' +
        'tokens saved: prompt tokens (o200k_base) against a plain LLM tool loop with all 14 tools.',
    )
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
