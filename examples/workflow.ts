// Multi-step workflows: train a router on whole workflows (look up an order, then refund it, or ask
// for approval from 500 on), then let it pick each next step and run the chain locally.
// Run: npx tsc && node examples/workflow.js
import { examplesFromWorkflows, runChain, Trainer, workflowTools, type ToolSpec, type Workflow } from '../index'

const tools: ToolSpec[] = [
  { name: 'lookup_order', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
  {
    name: 'refund_order',
    parameters: { type: 'object', properties: { order_id: { type: 'string' }, amount: { type: 'number' } }, required: ['order_id', 'amount'] },
  },
  {
    name: 'request_approval',
    parameters: { type: 'object', properties: { reference: { type: 'string' }, amount: { type: 'number' } }, required: ['reference', 'amount'] },
  },
]

// 160 recorded workflows (here generated): the amount in the lookup decides the second step.
const phrases = ['refund order {id}', 'please refund {id} now', 'I want my money back for order {id}', 'refund {id} for me']
const workflows: Workflow[] = Array.from({ length: 160 }, (_, i) => {
  const id = `A${1000 + ((i * 7919) % 9000)}`
  const amount = Math.round(20 * 150 ** (((i * 37) % 160) / 160))
  const next =
    amount >= 500
      ? { tool: 'request_approval', args: { reference: id, amount }, result: { approved: true } }
      : { tool: 'refund_order', args: { order_id: id, amount }, result: { refunded: amount } }
  return {
    request: phrases[i % 4].replace('{id}', id),
    steps: [
      { tool: 'lookup_order', args: { order_id: id }, result: { order_id: id, status: 'delivered', amount } },
      next,
    ],
  }
})

async function main(): Promise<void> {
  const router = await new Trainer({ tools: workflowTools(tools, workflows), dModel: 32, layers: 1, heads: 2, maxTokens: 64, epochs: 40, argWeight: 2, seed: 3 }).fit(
    examplesFromWorkflows(workflows),
  )
  const lookup = { tool: 'lookup_order', args: { order_id: 'A4242' }, result: { order_id: 'A4242', status: 'delivered', amount: 730 } }
  const r = router.next('please refund A4242 now', [lookup])
  console.log(r.tool, r.confidence.toFixed(3), r.args, r.complete)

  const run = await runChain({
    router,
    request: 'refund order A5150',
    format: 'openai',
    tools: {
      lookup_order: ({ order_id }) => ({ order_id, status: 'delivered', amount: 88 }),
      refund_order: ({ amount }) => ({ refunded: amount }),
      request_approval: () => ({ approved: true }),
    },
    llm: ({ history }) => `LLM gets ${history.length} messages`,
  })
  console.log(run.status, run.steps.map((s) => `${s.tool}(${JSON.stringify(s.args)})`).join(' → '), '→', run.routes.at(-1)?.tool)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
