// The README's API example: train on the bundled demo data, route, save, load.
import * as path from 'node:path'
import { loadExamples, loadTools, Router, Trainer } from '../index'

async function main(): Promise<void> {
  const demo = path.join(__dirname, '..', 'data', 'demo')
  const tools = await loadTools(path.join(demo, 'tools.json'))
  const train = await loadExamples(path.join(demo, 'train.jsonl'), { tools })
  const router = await new Trainer({ tools, seed: 1 }).fit(train)
  console.log(router.route('is it going to snow in Denver tonight?'))
  await router.save('/tmp/demo.toolrouter')
  const loaded = await Router.load('/tmp/demo.toolrouter')
  console.log(loaded.route('what is the weather like in Kyoto').tool)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
