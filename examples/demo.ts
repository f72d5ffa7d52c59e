// The README's first command: trains on the bundled demo data, prints test accuracy, a few
// routed requests and the time per route. Run with `npm run demo` (`-- --word-shapes` to train with
// word shapes, as the README's comparison does).
import * as path from 'node:path'
import { Cascade, loadExamples, loadTools, Trainer, type ToolExecutors } from '../index'
import { labelledLlm } from './labelled-llm'

async function main(): Promise<void> {
  const dir = path.join(__dirname, '..', 'data', 'demo')
  const tools = await loadTools(path.join(dir, 'tools.json'))
  const train = await loadExamples(path.join(dir, 'train.jsonl'), { tools })
  const test = await loadExamples(path.join(dir, 'test.jsonl'), { tools })
  console.log(`Training on ${train.length} examples for ${tools.length} tools (bundled demo data)…`)

  const t0 = performance.now()
  const router = await new Trainer({ tools, wordShapes: process.argv.includes('--word-shapes') }).fit(train, {
    onProgress: (p) => {
      if (p.validAccuracy !== undefined && process.stdout.isTTY) {
        process.stdout.write(`\r  epoch ${p.epoch}  loss ${p.loss.toFixed(3)}  valid ${(100 * p.validAccuracy).toFixed(1)}%   `)
      }
    },
  })
  if (process.stdout.isTTY) process.stdout.write('\n')
  const trainS = (performance.now() - t0) / 1000
  console.log(`Trained in ${trainS.toFixed(1)} s (best epoch ${router.training.best_epoch} of ${router.training.epochs_run}).`)

  const m = await router.evaluate(test)
  console.log(`\nTest set (${m.n} requests written apart from the training ones):`)
  console.log(`  tool accuracy      ${(100 * m.accuracy).toFixed(1)}%  (${m.n_in_scope} in-scope requests)`)
  console.log(`  macro F1           ${(100 * m.macro_f1).toFixed(1)}%`)
  if (m.slot_f1 != null) console.log(`  argument span F1   ${(100 * m.slot_f1).toFixed(1)}%`)
  const pct = (v: number | null | undefined): string => (v == null ? '–' : `${(100 * v).toFixed(1)}%`)
  console.log(
    `  at the fitted threshold ${router.threshold.toFixed(3)}: answers ${pct(m.coverage)} of requests, ` +
      `${pct(m.selective_accuracy)} of those right`,
  )
  if (m.oos_recall != null) {
    console.log(`  out-of-scope recall ${pct(m.oos_recall)}, in-scope accuracy ${pct(m.in_scope_accuracy)} (abstaining counts as wrong)`)
  }
  if (m.ece != null && m.ece_uncalibrated != null) {
    console.log(`  calibration error  ${m.ece.toFixed(3)} (${m.ece_uncalibrated.toFixed(3)} before temperature scaling)`)
  }

  console.log('\nA few requests:')
  const samples = [
    "I'm heading out, do I need an umbrella in Lisbon this afternoon?",
    'ping Marta that the deck is ready, subject: Q3 slides',
    'how much is 250 francs in yen',
    'wake me in twenty minutes',
    'where is my package, order 88-1932',
    'write me a haiku about autumn',
  ]
  for (const text of samples) {
    const r = router.route(text)
    const who = r.tool ?? `no tool (${r.reason})`
    console.log(`  ${who.padEnd(24)} ${r.confidence.toFixed(3)}  <- ${text}`)
    if (Object.keys(r.args).length > 0) console.log(`  ${''.padEnd(24)} args ${JSON.stringify(r.args)}`)
  }

  // Time per route: synchronous calls from JS, tokenization and the N-API crossing included.
  const texts = test.map((e) => e.text)
  for (let i = 0; i < 200; i++) router.route(texts[i % texts.length])
  const times: number[] = []
  for (let i = 0; i < 2000; i++) {
    const s = performance.now()
    router.route(texts[i % texts.length])
    times.push(performance.now() - s)
  }
  times.sort((a, b) => a - b)
  const us = (q: number) => (1000 * times[Math.floor(q * (times.length - 1))]).toFixed(0)
  console.log(`\nroute(): p50 ${us(0.5)} µs, p99 ${us(0.99)} µs per request (${times.length} calls, one thread)`)

  // In front of the LLM: the test requests through a cascade, against a plain LLM tool loop that
  // sends all the tools in every call. The LLM is a stand-in answering from the labels.
  const execute: ToolExecutors = Object.fromEntries(tools.map((t) => [t.name, () => ({ ok: true })]))
  const labels = new Map(test.map((e) => [e.text, e]))
  const cascade = new Cascade({ router, tools: execute, llm: labelledLlm(labels), shortlist: 5 })
  for (const e of test) await cascade.run([{ role: 'user' as const, content: e.text }])
  const s = cascade.stats()
  const baselineCalls = s.llmCalls + s.llmCallsAvoided
  console.log(`\nIn front of the LLM (${s.runs} test requests, prompt tokens counted with o200k_base):`)
  console.log(
    `  plain LLM tool loop  ${s.baselinePromptTokens} prompt tokens in ${baselineCalls} LLM calls (all ${tools.length} tools each call)`,
  )
  console.log(
    `  cascade              ${s.promptTokens} prompt tokens in ${s.llmCalls} LLM calls ` +
      `(${pct(s.localShare)} run locally, a shortlist of 5 tools otherwise)`,
  )
  console.log(
    `  saved                ${pct(s.tokensSaved / s.baselinePromptTokens)} of the prompt tokens, ${s.llmCallsAvoided} LLM calls`,
  )
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
