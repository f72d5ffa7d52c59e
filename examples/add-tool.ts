// Adding a tool without retraining: trains on the bundled demo data without `get_stock_price`
// (with `toolSpace: true`), then adds it from its description alone and with 5 examples, and
// routes a few requests. Run with `node examples/add-tool.js` after `npm run build`.
import * as path from 'node:path'
import { loadExamples, loadTools, Trainer, type Router } from '../index'

const NEW = 'get_stock_price'
const REQUESTS = ['how much is a share of Nvidia right now', 'what is ASML trading at', 'play some jazz', 'tell me a joke']

function show(router: Router): void {
  for (const text of REQUESTS) {
    const r = router.route(text)
    const what = r.tool === null ? `no tool (${r.reason})` : r.tool
    console.log(`  ${text.padEnd(42)} -> ${what} ${r.confidence.toFixed(2)}`)
  }
}

async function main(): Promise<void> {
  const dir = path.join(__dirname, '..', 'data', 'demo')
  const tools = await loadTools(path.join(dir, 'tools.json'))
  const train = await loadExamples(path.join(dir, 'train.jsonl'), { tools })
  const spec = tools.find((t) => t.name === NEW)
  if (spec === undefined) throw new Error(`${NEW} is not in the demo tools`)
  const router = await new Trainer({
    tools: tools.filter((t) => t.name !== NEW),
    pretrained: 'minilm',
    toolSpace: true,
    seed: 1,
  }).fit(train.filter((e) => e.tool !== NEW))
  console.log(`Trained on ${router.tools.length} tools, without ${NEW}:`)
  show(router)

  let t0 = performance.now()
  router.addTool(spec)
  console.log(`\naddTool from the description alone (${(performance.now() - t0).toFixed(1)} ms): "${spec.description}"`)
  show(router)

  const examples = train.filter((e) => e.tool === NEW).slice(0, 5).map((e) => e.text)
  t0 = performance.now()
  router.addTool(spec, examples)
  console.log(`\naddTool again with 5 examples (${(performance.now() - t0).toFixed(1)} ms), e.g. "${examples[0]}":`)
  show(router)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
