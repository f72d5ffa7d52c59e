/**
 * Multi-step workflows: the rendering of a state, arguments copied from earlier results, a rule on a
 * value in a result learned from examples, `finish`, the JSONL loader's errors, workflows from
 * multi-call traces, and the chain runner (local steps, then a handover with synthetic history).
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  Cascade,
  examplesFromWorkflows,
  FINISH,
  loadWorkflows,
  numberFacts,
  renderState,
  runChain,
  Trainer,
  workflowsFromTraces,
  workflowTools,
  type CascadeLlm,
  type LlmRequest,
  type Route,
  type Router,
  type ToolSpec,
  type Workflow,
} from '../index.js'
import { nextStep, stateFor } from '../ts/workflow.ts'
import { assertToolrouterError, tempDir } from './helpers.ts'

const TOOLS: ToolSpec[] = [
  {
    name: 'lookup_order',
    parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  },
  {
    name: 'refund_order',
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'number' } },
      required: ['order_id', 'amount'],
    },
  },
  {
    name: 'request_approval',
    parameters: {
      type: 'object',
      properties: { reference: { type: 'string' }, amount: { type: 'number' } },
      required: ['reference', 'amount'],
    },
  },
]

const PHRASES = ['refund order {id}', 'please refund {id} now', 'I want my money back for order {id}', 'refund {id} for me']

/** Deterministic pseudo-random values (no Math.random in tests). */
function lcg(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 4294967296
  }
}

/** Refunds: look up the order; from 500 on, ask for approval, else refund; then finish. */
function refunds(n: number, seed: number): Workflow[] {
  const r = lcg(seed)
  return Array.from({ length: n }, (_, i) => {
    const id = `A${1000 + Math.floor(r() * 9000)}`
    const amount = Math.round(Math.exp(Math.log(20) + r() * (Math.log(3000) - Math.log(20))))
    const lookup = { tool: 'lookup_order', args: { order_id: id }, result: { order_id: id, status: 'delivered', amount } }
    const next =
      amount >= 500
        ? { tool: 'request_approval', args: { reference: id, amount }, result: { approved: true } }
        : { tool: 'refund_order', args: { order_id: id, amount }, result: { refunded: amount } }
    return { request: PHRASES[i % PHRASES.length].replace('{id}', id), steps: [lookup, next] }
  })
}

const FAST = { dModel: 32, layers: 1, heads: 2, maxTokens: 64, epochs: 40, patience: 40, argWeight: 2, seed: 3 }

let shared: Promise<{ router: Router; train: Workflow[] }> | undefined
function sharedRouter(): Promise<{ router: Router; train: Workflow[] }> {
  shared ??= (async () => {
    const train = refunds(160, 1)
    const router = await new Trainer({ tools: workflowTools(TOOLS, train), ...FAST }).fit(examplesFromWorkflows(train))
    return { router, train }
  })()
  return shared
}

test('a state renders deterministically, whatever the order of the arguments', (t) => {
  const steps = [{ tool: 'lookup_order', args: { order_id: 'A123', verbose: true }, result: { status: 'delivered', amount: 730 } }]
  const a = renderState('refund order A123', steps)
  const b = renderState('refund order A123', [{ ...steps[0], args: { verbose: true, order_id: 'A123' } }])
  t.is(a, b)
  t.is(a, renderState('refund order A123', JSON.parse(JSON.stringify(steps))))
  t.true(a.startsWith('refund order A123 | lookuporder order_id=A123 verbose=true → status=delivered amount=730 | facts '), a)
  t.true(a.includes(' amountge500'))
  t.false(a.includes('amountge1000'))
  t.true(a.includes(' amountlt1000'))
  t.is(renderState('hi', []), 'hi')
})

test('numbers become threshold facts on a fixed grid, negative ones too', (t) => {
  // Both sides of the thresholds within a decade above the value.
  t.deepEqual(numberFacts('amount', 4), ['amountge1', 'amountge2', 'amountge3', 'amountlt5', 'amountlt10', 'amountlt20', 'amountlt30'])
  t.true(numberFacts('amount', 500).includes('amountge500'))
  t.false(numberFacts('amount', 500).includes('amountlt500'))
  t.false(numberFacts('amount', 499.99).includes('amountge500'))
  t.true(numberFacts('amount', 499.99).includes('amountlt500'))
  t.false(numberFacts('amount', 40).includes('amountlt500'), 'more than ten times the value: no fact')
  t.deepEqual(numberFacts('change_pct', -6.2), [
    'changepctneg',
    'changepctlem1',
    'changepctlem2',
    'changepctlem3',
    'changepctlem5',
    'changepctgtm10',
    'changepctgtm20',
    'changepctgtm30',
    'changepctgtm50',
  ])
  t.deepEqual(numberFacts('x', 0.5), ['xlt1'])
})

test('next() reads a state with the threshold facts its router was trained on', (t) => {
  const steps = [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: { amount: 730 } }]
  const now = stateFor({ tools: workflowTools(TOOLS) }, 'refund A1', steps)
  t.is(now, renderState('refund A1', steps))
  t.true(now.includes(' amountlt1000'))
  // A router trained before the facts were versioned saw the `ge` side only.
  const oldFinish: ToolSpec = { name: '__finish__', parameters: { type: 'object', properties: {} } }
  const old = stateFor({ tools: [...TOOLS, oldFinish] }, 'refund A1', steps)
  t.false(old.includes('amountlt'))
  t.is(old, now.replace(/ amountlt\d+/g, ''))
  // Tools made to train (or continue) a router from an old one's read states as they are written now.
  t.is(stateFor({ tools: workflowTools([...TOOLS, oldFinish]) }, 'refund A1', steps), now)
  // Version 3 adds a fact per yes/no or one-word field; a router trained on version 2 reads states without them.
  const flagged = [{ tool: 'request_approval', args: { reference: 'A1' }, result: { approved: false, status: 'Lost', note: 'two words', id: 'A1' } }]
  const v3 = stateFor({ tools: workflowTools(TOOLS) }, 'refund A1', flagged)
  t.true(v3.endsWith('| facts approvedfalse statuslost'), v3)
  const v2Finish: ToolSpec = { ...oldFinish, parameters: { ...oldFinish.parameters, 'x-toolrouter-facts': 2 } }
  t.false(stateFor({ tools: [...TOOLS, v2Finish] }, 'refund A1', flagged).includes('| facts'))
})

test('each workflow state is an example; spans point into the request; finish ends a finished workflow', (t) => {
  const [w] = refunds(1, 9)
  const ex = examplesFromWorkflows([w])
  t.deepEqual(
    ex.map((e) => e.tool),
    ['lookup_order', w.steps[1].tool, '__finish__'],
  )
  const id = w.steps[0].args.order_id as string
  t.deepEqual(ex[0].spans, [{ name: 'order_id', start: ex[0].text.indexOf(id), end: ex[0].text.indexOf(id) + id.length }])
  t.is(examplesFromWorkflows([{ ...w, finished: false }]).length, 2)
})

test('an argument is taken from an earlier result, and finish comes at the end', async (t) => {
  const { router } = await sharedRouter()
  const request = 'please refund A4242 now'
  const lookup = { tool: 'lookup_order', args: { order_id: 'A4242' }, result: { order_id: 'A4242', status: 'delivered', amount: 137 } }
  const first = router.next(request, [], { threshold: 0 })
  t.is(first.tool, 'lookup_order')
  t.deepEqual(first.args, { order_id: 'A4242' })
  const second = router.next(request, [lookup], { threshold: 0 })
  t.is(second.tool, 'refund_order')
  t.is(second.args.amount, 137, 'the amount comes from the lookup result')
  t.is(second.args.order_id, 'A4242')
  const text = renderState(request, [lookup])
  const amountSpan = second.spans.find((s) => s.name === 'amount')
  t.truthy(amountSpan)
  t.true((amountSpan?.start ?? 0) > request.length, 'the span points into the rendered history')
  t.is(text.slice(amountSpan?.start, amountSpan?.end), '137')
  const done = router.next(request, [lookup, { tool: 'refund_order', args: second.args, result: { refunded: 137 } }], { threshold: 0 })
  t.is(done.tool, FINISH)
  t.true(done.complete)
})

test('next() does not finish before the first call when no training workflow did, where route() would', async (t) => {
  const { router, train } = await sharedRouter()
  // Requests that read like a finished state (its history flattened into the request text): the
  // model's best label for them, without history, is finish.
  const requests = train.slice(0, 40).map((w) => renderState(w.request, w.steps))
  const finishing = requests.filter((r) => router.route(renderState(r, []), { threshold: 0 }).tool === '__finish__')
  t.true(finishing.length > 0, 'route() puts finish first for some of them')
  for (const r of finishing) {
    const first = router.next(r, [], { threshold: 0 })
    t.not(first.tool, FINISH, r)
    t.false(first.alternatives.some((a) => a.tool === FINISH), r)
  }
  // After a call, finish is allowed again.
  const w = train[0]
  t.is(router.next(w.request, w.steps, { threshold: 0 }).tool, FINISH)
})

/** A count the training workflows leave in the `finish` pseudo-tool's schema. */
function recorded(tools: ToolSpec[], key: 'emptyFinishes' | 'errorResults' | 'shapes' | 'context'): unknown {
  const schema = tools.find((x) => x.name === '__finish__')?.parameters as Record<string, Record<string, unknown>> | undefined
  return schema?.['x-toolrouter-workflow']?.[key]
}

test('the training workflows record whether any finished without a call', (t) => {
  const emptyFinishes = (tools: ToolSpec[]): unknown => recorded(tools, 'emptyFinishes')
  const train = refunds(4, 5)
  t.is(emptyFinishes(workflowTools(TOOLS, train)), 0)
  t.is(emptyFinishes(workflowTools(TOOLS, [...train, { request: 'thanks, that is all', steps: [] }])), 1)
  // An unfinished workflow without a call says nothing about finishing.
  t.is(emptyFinishes(workflowTools(TOOLS, [...train, { request: 'hmm', steps: [], finished: false }])), 0)
})

test('route() never picks an excluded tool: its probability goes to the others', async (t) => {
  const { router } = await sharedRouter()
  const text = 'refund order A1234'
  const plain = router.route(text, { threshold: 0 })
  t.is(plain.tool, 'lookup_order')
  const alt = plain.alternatives[0]
  const ex = router.route(text, { threshold: 0, exclude: ['lookup_order'] })
  t.is(ex.tool, alt.tool)
  t.true(Math.abs(ex.confidence - alt.confidence / (1 - plain.confidence)) < 1e-6, `${ex.confidence} vs ${alt.confidence} / (1 - ${plain.confidence})`)
  t.false(ex.alternatives.some((a) => a.tool === 'lookup_order'))
  assertToolrouterError(t, t.throws(() => router.route(text, { exclude: ['no_such_tool'] })), 'INVALID_ARGUMENT')
  assertToolrouterError(t, t.throws(() => router.route(text, { exclude: 'lookup_order' as unknown as string[] })), 'INVALID_ARGUMENT')
})

test('a rule on a value in a result (from 500 on, approval) is learned: ≥ 95% right on held-out values', async (t) => {
  const { router, train } = await sharedRouter()
  const seen = new Set(train.map((w) => w.steps[0].result))
  const test_ = refunds(120, 77).filter((w) => !seen.has(w.steps[0].result))
  let right = 0
  for (const w of test_) {
    const r = router.next(w.request, w.steps.slice(0, 1), { threshold: 0 })
    const best = r.tool ?? r.alternatives[0]?.tool
    if (best === w.steps[1].tool) right++
  }
  const acc = right / test_.length
  t.true(acc >= 0.95, `branch accuracy ${(100 * acc).toFixed(1)}% on ${test_.length} held-out amounts`)
})

test('runChain runs confident steps locally and stops at finish', async (t) => {
  const { router } = await sharedRouter()
  const calls: string[] = []
  const run = await runChain({
    router,
    request: 'refund order A5150',
    minConfidence: 0,
    tools: {
      lookup_order: (args) => {
        calls.push('lookup_order')
        return { order_id: args.order_id, status: 'delivered', amount: 88 }
      },
      refund_order: (args) => {
        calls.push('refund_order')
        return { refunded: args.amount }
      },
      request_approval: () => ({ approved: true }),
    },
  })
  t.is(run.status, 'done')
  t.deepEqual(calls, ['lookup_order', 'refund_order'])
  t.deepEqual(run.steps[1].args, { order_id: 'A5150', amount: 88 })
  t.is(run.history.length, 4, 'a call and a result per step')
  t.is(run.routes.at(-1)?.tool, FINISH)
})

test('next() drops a tagged value that the training workflows never took from where the history has it', (t) => {
  const tools: ToolSpec[] = [
    ...TOOLS,
    { name: 'send_email', parameters: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] } },
  ]
  // Both follow a lookup: the approval's reference is the order id, the e-mail's recipient never is.
  const train: Workflow[] = Array.from({ length: 12 }, (_, i) => {
    const id = `B${100 + i}`
    const lookup = { tool: 'lookup_order', args: { order_id: id }, result: { order_id: id, status: 'late' } }
    const next =
      i % 2 === 0
        ? { tool: 'send_email', args: { to: `Name${i}` }, result: { sent: true } }
        : { tool: 'request_approval', args: { reference: id, amount: 600 }, result: { approved: true } }
    return { request: `check order ${id} and tell Name${i}`, steps: [lookup, next] }
  })
  const request = 'check order B77 and tell Kofi'
  const steps = [{ tool: 'lookup_order', args: { order_id: 'B77' }, result: { order_id: 'B77', status: 'late' } }]
  // A stand-in for the trained router: it answers `proposed`, with spans into the request.
  const router = (tool: string, args: Record<string, unknown>): Router => {
    const spans = Object.entries(args).flatMap(([name, v]) => {
      const start = request.indexOf(String(v))
      return start < 0 ? [] : [{ name, start, end: start + String(v).length }]
    })
    const proposed = { tool, confidence: 0.9, alternatives: [], args, spans, abstained: false, reason: 'confident' as const, missing: [], invalid: [], complete: true }
    return { tools: workflowTools(tools, train), route: () => proposed } as unknown as Router
  }
  const wrong = nextStep(router('send_email', { to: 'B77' }), request, steps)
  t.deepEqual(wrong.args, {}, 'the order id is not a recipient')
  t.deepEqual(wrong.spans, [])
  t.deepEqual(wrong.missing, ['to'])
  t.false(wrong.complete)
  const right = nextStep(router('send_email', { to: 'Kofi' }), request, steps)
  t.deepEqual(right.args, { to: 'Kofi' })
  t.true(right.complete)
  // The approval's reference did come from the lookup: kept.
  const approval = nextStep(router('request_approval', { reference: 'B77', amount: 600 }), request, steps)
  t.deepEqual(approval.args, { reference: 'B77', amount: 600 })
  t.true(approval.complete)
  // Before any call there is no history to hold against a value.
  t.deepEqual(nextStep(router('send_email', { to: 'B77' }), request, []).args, { to: 'B77' })
})

test('next() passes over a tool whose argument looks like none of its training values', (t) => {
  const tools: ToolSpec[] = [
    ...TOOLS,
    { name: 'get_stock_price', parameters: { type: 'object', properties: { symbol: { type: 'string' } }, required: ['symbol'] } },
  ]
  const ticker = ['AAPL', 'NVDA', 'MSFT', 'TSLA']
  const train: Workflow[] = Array.from({ length: 40 }, (_, i) =>
    i % 2 === 0
      ? { request: `where is order A${1000 + i}`, steps: [{ tool: 'lookup_order', args: { order_id: `A${1000 + i}` }, result: { status: 'shipped' } }] }
      : { request: `price of ${ticker[i % 4]}`, steps: [{ tool: 'get_stock_price', args: { symbol: ticker[i % 4] }, result: { price: 10 } }] },
  )
  const request = 'watch ORCL for me'
  // A stand-in for the trained router, sure of `lookup_order` unless it is excluded.
  const routes: string[][] = []
  const router = (value: string, always = false): Router => {
    const route = (_text: string, opts?: { exclude?: readonly string[] }): Route => {
      routes.push([...(opts?.exclude ?? [])])
      const tool = !always && opts?.exclude?.includes('lookup_order') ? 'get_stock_price' : 'lookup_order'
      const args = tool === 'lookup_order' ? { order_id: value } : { symbol: value }
      const spans = [{ name: Object.keys(args)[0], start: 6, end: 6 + value.length }]
      return { tool, confidence: 0.99, alternatives: [], args, spans, abstained: false, reason: 'confident', missing: [], invalid: [], complete: true }
    }
    return { tools: workflowTools(tools, train), route } as unknown as Router
  }
  t.deepEqual(recorded(workflowTools(tools, train), 'shapes'), { lookup_order: { order_id: ['Xd'] }, get_stock_price: { symbol: ['X'] } })
  const r = nextStep(router('ORCL'), request, [])
  t.is(r.tool, 'get_stock_price', '"ORCL" is not shaped like an order id')
  t.deepEqual(r.args, { symbol: 'ORCL' })
  t.deepEqual(routes.at(-1), ['__finish__', 'lookup_order'])
  // Typed in lower case, a ticker is still a ticker (and still no order id).
  t.deepEqual(nextStep(router('orcl'), 'watch orcl for me', []).args, { symbol: 'orcl' })
  // An order id of a known shape stays with lookup_order.
  t.deepEqual(nextStep(router('A77'), 'watch A77 for me', []).args, { order_id: 'A77' })
  // When every tool is passed over, the last route stands: no endless rerouting.
  routes.length = 0
  t.is(nextStep(router('ORCL', true), request, []).tool, 'lookup_order')
  t.true(routes.length <= tools.length + 1)
  // Unsure of an off-shape lookup (0.4, under the threshold): with lookup_order passed over, the ticker is sure.
  const unsure = {
    tools: workflowTools(tools, train),
    route: (_text: string, opts?: { threshold?: number; exclude?: readonly string[] }): Route => {
      if (opts?.exclude?.includes('lookup_order')) {
        const spans = [{ name: 'symbol', start: 6, end: 10 }]
        return { tool: 'get_stock_price', confidence: 0.9, alternatives: [], args: { symbol: 'ORCL' }, spans, abstained: false, reason: 'confident', missing: [], invalid: [], complete: true }
      }
      const alternatives = [{ tool: 'lookup_order', confidence: 0.4 }]
      if ((opts?.threshold ?? 0.5) > 0.4) {
        return { tool: null, confidence: 0.4, alternatives, args: {}, spans: [], abstained: true, reason: 'low_confidence', missing: [], invalid: [], complete: false }
      }
      const spans = [{ name: 'order_id', start: 6, end: 10 }]
      return { tool: 'lookup_order', confidence: 0.4, alternatives: [], args: { order_id: 'ORCL' }, spans, abstained: false, reason: 'confident', missing: [], invalid: [], complete: true }
    },
  } as unknown as Router
  t.is(nextStep(unsure, request, []).tool, 'get_stock_price')
  // Under 20 values of an argument, its shapes are not recorded (nor held to).
  t.deepEqual(recorded(workflowTools(tools, train.slice(0, 10)), 'shapes'), {})
})

test('next() fills a required argument the tagger missed with the one request word of its training shape', (t) => {
  const tools: ToolSpec[] = [
    ...TOOLS,
    { name: 'send_email', parameters: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] } },
    { name: 'book_table', parameters: { type: 'object', properties: { people: { type: 'integer' } }, required: ['people'] } },
  ]
  const names = ['Marta', 'Jonas', 'Priya', 'Tom']
  // Recipients and party sizes come from the request; order ids from the lookup.
  const train: Workflow[] = Array.from({ length: 48 }, (_, i) => {
    const id = `B${100 + i}`
    const lookup = { tool: 'lookup_order', args: { order_id: id }, result: { order_id: id, status: 'late', items: 3 } }
    return i % 2 === 0
      ? { request: `check order ${id} and tell ${names[i % 4]}`, steps: [lookup, { tool: 'send_email', args: { to: names[i % 4] }, result: { sent: true } }] }
      : { request: `check order ${id} and book for ${i + 2}`, steps: [lookup, { tool: 'book_table', args: { people: i + 2 }, result: { booked: true } }] }
  })
  const steps = [{ tool: 'lookup_order', args: { order_id: 'B77' }, result: { order_id: 'B77', status: 'late', items: 3 } }]
  // A stand-in for the trained router: sure of the tool, its tagger found no argument.
  const router = (tool: string, missing: string[]): Router => {
    const proposed = { tool, confidence: 0.9, alternatives: [], args: {}, spans: [], abstained: false, reason: 'confident' as const, missing, invalid: [], complete: false }
    return { tools: workflowTools(tools, train), route: () => proposed } as unknown as Router
  }
  const email = router('send_email', ['to'])
  const request = 'see to order B77; if it is late, alert Kofi'
  const r = nextStep(email, request, steps)
  t.deepEqual(r.args, { to: 'Kofi' }, 'the one capitalised word that is not the order id')
  t.true(r.complete)
  const at = stateFor(email, request, steps).indexOf('Kofi')
  t.deepEqual(r.spans, [{ name: 'to', start: at, end: at + 4 }])
  // Two candidates, a name in sentence case at the start, a lower-case name or only "I": nothing is filled.
  t.deepEqual(nextStep(email, 'see to order B77 and alert Kofi or Hugo', steps).missing, ['to'])
  t.deepEqual(nextStep(email, 'Kofi wants to know about order B77', steps).missing, ['to'])
  t.deepEqual(nextStep(email, 'see to order B77 and alert kofi', steps).missing, ['to'])
  t.deepEqual(nextStep(email, 'I want order B77 checked', steps).missing, ['to'])
  // A numeric argument takes the one number the history does not have (3 is the lookup's item count).
  const table = router('book_table', ['people'])
  t.deepEqual(nextStep(table, 'order B77 has 3 items; book for 7', steps).args, { people: 7 })
  t.deepEqual(nextStep(table, 'order B77: book for 7 or 8', steps).missing, ['people'])
  t.deepEqual(recorded(workflowTools(tools, train), 'shapes'), { lookup_order: { order_id: ['Xd'] }, send_email: { to: ['Xx'] } })
})

test('next() drops a tagged value made only of words the training requests use around values', (t) => {
  const tools: ToolSpec[] = [
    ...TOOLS,
    { name: 'add_event', parameters: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } },
  ]
  const titles = ['picnic', 'bike ride', 'hike', 'board game night']
  const train: Workflow[] = Array.from({ length: 24 }, (_, i) => ({
    request: `plan a ${titles[i % 4]} for us`,
    steps: [{ tool: 'add_event', args: { title: titles[i % 4] }, result: { ok: true } }],
  }))
  const context = recorded(workflowTools(tools, train), 'context') as string[]
  t.deepEqual([...context].sort(), ['a', 'for', 'plan', 'us'], 'the words around the titles, not the titles')
  const request = 'plan a football match for us'
  const router = (title: string): Router => {
    const start = request.indexOf(` ${title} `) + 1
    const proposed = {
      tool: 'add_event',
      confidence: 0.9,
      alternatives: [],
      args: { title },
      spans: [{ name: 'title', start, end: start + title.length }],
      abstained: false,
      reason: 'confident' as const,
      missing: [],
      invalid: [],
      complete: true,
    }
    return { tools: workflowTools(tools, train), route: () => proposed } as unknown as Router
  }
  const article = nextStep(router('a'), request, [])
  t.deepEqual(article.args, {})
  t.deepEqual(article.missing, ['title'])
  t.false(article.complete)
  t.deepEqual(nextStep(router('football match'), request, []).args, { title: 'football match' })
  // A value with one word of its own is a value.
  t.deepEqual(nextStep(router('a football'), request, []).args, { title: 'a football' })
})

test('runChain hands a call it already made to the LLM instead of making it again', async (t) => {
  const { router } = await sharedRouter()
  const request = 'refund order A5150'
  // A lookup that answers a bare "timeout": the router, which never saw one, proposes the same
  // lookup again. (An `error` field would go to the LLM at once: the next test.)
  const timeout = 'timeout'
  const again = router.next(request, [{ tool: 'lookup_order', args: { order_id: 'A5150' }, result: timeout }], { threshold: 0 })
  t.is(again.tool, 'lookup_order')
  t.deepEqual(again.args, { order_id: 'A5150' })
  let lookups = 0
  const tools = {
    lookup_order: () => {
      lookups++
      return timeout
    },
  }
  const run = await runChain({ router, request, minConfidence: 0, maxSteps: 3, tools })
  t.is(run.status, 'handover')
  t.is(run.handover?.reason, 'repeated_call')
  t.is(run.handover?.route.tool, 'lookup_order')
  t.is(lookups, 1, 'the lookup ran once')
  t.is(run.history.length, 2, 'the LLM gets the one call and its result')
  lookups = 0
  const allowed = await runChain({ router, request, minConfidence: 0, maxSteps: 2, tools, allowRepeatedCalls: true })
  t.is(allowed.handover?.reason, 'max_steps')
  t.is(lookups, 2, 'allowed, the same lookup runs again, until maxSteps')
  await t.throwsAsync(runChain({ router, request, tools, allowRepeatedCalls: 'yes' as unknown as boolean }), { code: 'INVALID_ARGUMENT' })
})

test('runChain hands a chain to the LLM when a tool reports an error its router never saw in training', async (t) => {
  const { router } = await sharedRouter()
  const request = 'refund order A5150'
  let lookups = 0
  const run = await runChain({
    router,
    request,
    minConfidence: 0,
    tools: {
      lookup_order: () => {
        lookups++
        return { error: 'order not found' }
      },
    },
  })
  t.is(run.status, 'handover')
  t.is(run.handover?.reason, 'tool_error')
  t.is(run.handover?.error, 'order not found')
  t.is(lookups, 1)
  t.is(run.history.length, 2, 'the LLM gets the failed call and its result')
  // A thrown error is handed over the same way, whatever the router saw.
  const thrown = await runChain({ router, request, minConfidence: 0, tools: { lookup_order: () => { throw new Error('timeout') } } })
  t.is(thrown.handover?.reason, 'tool_error')
  t.is(thrown.handover?.error, 'timeout')
})

test('the training workflows record how many steps returned an error', (t) => {
  const errorResults = (tools: ToolSpec[]): unknown => recorded(tools, 'errorResults')
  const train = refunds(4, 5)
  t.is(errorResults(workflowTools(TOOLS, train)), 0)
  const failed: Workflow = {
    request: 'refund order A1',
    steps: [
      { tool: 'lookup_order', args: { order_id: 'A1' }, result: { error: 'order not found' } },
      { tool: 'lookup_order', args: { order_id: 'A1' }, result: new Error('timeout') },
    ],
  }
  t.is(errorResults(workflowTools(TOOLS, [...train, failed])), 2)
})

test('runChain hands the rest to the LLM with the synthetic history of the steps it ran', async (t) => {
  const { router } = await sharedRouter()
  const seen: unknown[] = []
  const ids: string[] = []
  const run = await runChain({
    router,
    request: 'refund order A5150',
    format: 'anthropic',
    minConfidence: 0,
    // No executor for refunds: the second step goes to the LLM.
    tools: {
      lookup_order: (args, ctx) => {
        ids.push(ctx.id)
        return { order_id: args.order_id, status: 'delivered', amount: 88 }
      },
    },
    llm: (h) => {
      seen.push(h)
      return 'the LLM took it from here'
    },
  })
  t.is(run.status, 'handover')
  t.is(run.llm, 'the LLM took it from here')
  t.is(seen.length, 1)
  const h = run.handover
  t.is(h?.reason, 'no_executor')
  t.is(h?.route.tool, 'refund_order')
  t.is(h?.steps.length, 1)
  t.like(h?.history[0], { role: 'assistant', content: [{ type: 'tool_use', name: 'lookup_order', input: { order_id: 'A5150' } }] })
  t.is(ids.length, 1)
  t.like(h?.history[0], { content: [{ id: ids[0] }] }, 'the tool was given the id of its call in the history')
  t.like(h?.history[1], { role: 'user', content: [{ type: 'tool_result', content: '{"order_id":"A5150","status":"delivered","amount":88}' }] })
  // At a threshold of 1 nothing is confident enough: the first step already goes to the LLM.
  const unsure = await runChain({ router, request: 'refund order A5150', minConfidence: 1, tools: {} })
  t.is(unsure.status, 'handover')
  t.is(unsure.handover?.reason, 'low_confidence')
  t.deepEqual(unsure.history, [])
})

test('Cascade.runChain runs the local steps, then hands over to the cascade LLM with the request and the history', async (t) => {
  const { router } = await sharedRouter()
  const requests: LlmRequest<unknown>[] = []
  const llm: CascadeLlm<'openai'> = {
    format: 'openai',
    call: async (req) => {
      requests.push(req)
      return { messages: [{ role: 'assistant', content: 'refunded' }], toolCalls: [], text: 'refunded' }
    },
  }
  // No executor for refunds: the second step goes to the LLM.
  const cascade = new Cascade({
    router,
    llm,
    minConfidence: 0,
    tools: { lookup_order: (args) => ({ order_id: args.order_id, status: 'delivered', amount: 88 }) },
  })
  const run = await cascade.runChain('refund order A5150')
  t.is(run.status, 'handover')
  t.is(run.handover?.reason, 'no_executor')
  t.is(requests.length, 1)
  const msgs = requests[0].messages as Array<{ role: string; content?: unknown; tool_calls?: unknown }>
  t.deepEqual(msgs[0], { role: 'user', content: 'refund order A5150' })
  t.like(msgs[1], { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'lookup_order' } }] })
  t.is(msgs[2].role, 'tool')
  t.is(requests[0].toolChoice, 'auto')
  t.true(requests[0].tools.some((x) => x.name === 'refund_order'), 'every tool offered')
  t.false(requests[0].tools.some((x) => x.name === '__finish__'), 'not the finish pseudo-tool')
  t.like(run.llm, { text: 'refunded' })
})

test('loadWorkflows names the file, the line and the field of a bad record', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'wf.jsonl')
  const good = JSON.stringify({ request: 'refund A1', steps: [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: {} }] })
  fs.writeFileSync(file, `${good}\n\n${JSON.stringify({ request: 'x', steps: [{ tool: 'lookup_order', args: [] }] })}\n`)
  const e1 = await t.throwsAsync(loadWorkflows(file))
  assertToolrouterError(t, e1, 'DATASET_INVALID')
  t.true(e1?.message.startsWith(`${file}:3: field \`steps[0].args\``), e1?.message)
  fs.writeFileSync(file, `${good}\n{"request": 3, "steps": []}\n`)
  const e2 = await t.throwsAsync(loadWorkflows(file))
  t.true(e2?.message.includes(':2: field `request`'), e2?.message)
  fs.writeFileSync(file, `${good}\nnot json\n`)
  const e3 = await t.throwsAsync(loadWorkflows(file))
  t.true(e3?.message.includes(':2: invalid JSON'), e3?.message)
  fs.writeFileSync(file, JSON.stringify({ request: 'x', steps: [{ tool: 'a', args: {} }] }) + '\n')
  const e4 = await t.throwsAsync(loadWorkflows(file))
  t.true(e4?.message.includes(':1: field `steps[0].result`'), e4?.message)
  fs.writeFileSync(file, `${good}\n`)
  const e5 = await t.throwsAsync(loadWorkflows(file, { tools: [{ name: 'other' }] }))
  t.true(e5?.message.includes(':1: field `steps[0].tool`: unknown tool `lookup_order`'), e5?.message)
  t.is((await loadWorkflows(path.join(dir, '..', path.basename(dir), 'wf.jsonl'))).length, 1)
  await t.throwsAsync(loadWorkflows(path.join(dir, 'missing.jsonl')), { code: 'IO' })
})

test('workflowsFromTraces reads a multi-call OpenAI loop; prefixes logged per call are dropped', (t) => {
  const user = { role: 'user', content: 'refund order A77' }
  const call1 = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup_order', arguments: '{"order_id":"A77"}' } }],
  }
  const res1 = { role: 'tool', tool_call_id: 'c1', content: '{"order_id":"A77","amount":40}' }
  const call2 = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'c2', type: 'function', function: { name: 'refund_order', arguments: '{"order_id":"A77","amount":40}' } }],
  }
  const res2 = { role: 'tool', tool_call_id: 'c2', content: '{"refunded":40}' }
  const answer = { role: 'assistant', content: 'Refunded 40.' }
  const records = [
    { request: { messages: [user] }, response: { choices: [{ message: call1 }] } },
    { request: { messages: [user, call1, res1] }, response: { choices: [{ message: call2 }] } },
    { request: { messages: [user, call1, res1, call2, res2] }, response: { choices: [{ message: answer }] } },
  ]
  const wfs = workflowsFromTraces(records.map((r) => JSON.stringify(r)).join('\n'), { format: 'openai' })
  t.deepEqual(wfs, [
    {
      request: 'refund order A77',
      steps: [
        { tool: 'lookup_order', args: { order_id: 'A77' }, result: { order_id: 'A77', amount: 40 } },
        { tool: 'refund_order', args: { order_id: 'A77', amount: 40 }, result: { refunded: 40 } },
      ],
      finished: true,
    },
  ])
  const ex = examplesFromWorkflows(wfs)
  t.deepEqual(
    ex.map((e) => e.tool),
    ['lookup_order', 'refund_order', '__finish__'],
  )
  const e = t.throws(() => workflowsFromTraces('{"request":1}\nnope', { format: 'openai', source: 'log.jsonl' }))
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.true(e?.message.startsWith('log.jsonl:2: invalid JSON'), e?.message)
  t.throws(() => workflowsFromTraces([], { format: 'bogus' as 'openai' }), { code: 'INVALID_ARGUMENT' })
})

test('workflowsFromTraces keeps calls apart whose nested arguments differ', (t) => {
  const record = (status: string) => {
    const user = { role: 'user', content: 'list my orders' }
    const args = JSON.stringify({ filter: { status } })
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'search', arguments: args } }] }
    return { request: { messages: [user] }, response: { choices: [{ message: call }] } }
  }
  const wfs = workflowsFromTraces([record('open'), record('closed')].map((r) => JSON.stringify(r)).join('\n'), { format: 'openai' })
  t.deepEqual(
    wfs.map((w) => w.steps[0].args),
    [{ filter: { status: 'open' } }, { filter: { status: 'closed' } }],
  )
})

test('misuse throws INVALID_ARGUMENT', async (t) => {
  const { router } = await sharedRouter()
  t.throws(() => renderState(3 as unknown as string, []), { code: 'INVALID_ARGUMENT' })
  t.throws(() => router.next('x', [{ tool: '', args: {} }]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(runChain({ router, request: 'x', tools: {}, maxSteps: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(runChain({ router, request: 'x', tools: { a: 3 as unknown as () => unknown } }), { code: 'INVALID_ARGUMENT' })
})

/** A stand-in for a trained router: its `n`-th route is `script[n]`'s (the last one after that), confident and complete. */
function scripted(tools: ToolSpec[], script: Array<Partial<Route>>, seen: Array<readonly string[] | undefined> = []): Router {
  let n = 0
  const route = (_text: string, opts?: { exclude?: readonly string[] }): Route => {
    seen.push(opts?.exclude)
    const r = script[Math.min(n++, script.length - 1)]
    return { tool: null, confidence: 0.99, alternatives: [], args: {}, spans: [], abstained: false, reason: 'confident', missing: [], invalid: [], complete: true, ...r }
  }
  return { tools, route } as unknown as Router
}

test('an empty argument value is found nowhere: examples and argument sources are built, no endless search', (t) => {
  // In a child process: the search that never ended blocked the event loop, which no ava timeout interrupts.
  const source = new URL('../ts/workflow.ts', import.meta.url).href
  const code = `
    import wf from ${JSON.stringify(source)}
    const { examplesFromWorkflows, workflowTools } = wf
    const steps = [
      { tool: 'lookup_order', args: { order_id: 'A1' }, result: { amount: 5 } },
      { tool: 'send_email', args: { to: 'ben@x.io', cc: '', bcc: '  ', tags: [], note: [''] }, result: { ok: true } },
    ]
    const ws = [{ request: 'refund order A1 and email Ben', steps }, { request: 'refund order A1.', steps: steps.slice(1) }]
    const tools = workflowTools([], ws)
    const sources = tools.find((x) => x.name === '__finish__').parameters['x-toolrouter-workflow'].sources
    console.log(JSON.stringify({ examples: examplesFromWorkflows(ws), sources }))
  `
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 })
  t.is(child.error, undefined, 'the child ended in time')
  t.is(child.status, 0, child.stderr)
  const out = JSON.parse(child.stdout) as { examples: { tool: string; args: Record<string, unknown> }[]; sources: Record<string, Record<string, [string, number, number][]>> }
  t.deepEqual(
    out.examples.map((e) => e.tool),
    ['lookup_order', 'send_email', '__finish__', 'send_email', '__finish__'],
  )
  t.deepEqual(out.examples[0].args, { order_id: 'A1' })
  // An empty value is held by no source, not even the request.
  t.true(out.sources.send_email.cc.every(([, held]) => held === 0))
})

test('a tool error is read from the top-level `error` field, whatever its form; null, false and empty are no error', async (t) => {
  const train = refunds(4, 5)
  const tools = workflowTools(TOOLS, train)
  const run = (result: unknown) => {
    let refunds_ = 0
    const router = scripted(tools, [
      { tool: 'lookup_order', args: { order_id: 'A1' } },
      { tool: 'refund_order', args: { order_id: 'A1', amount: 5 } },
      { tool: '__finish__' },
    ])
    const executors = {
      lookup_order: () => result,
      refund_order: () => {
        refunds_++
        return { refunded: 5 }
      },
    }
    return runChain({ router, request: 'refund A1', tools: executors }).then((r) => ({ r, refunds: refunds_ }))
  }
  const many: Record<string, unknown> = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, i]))
  const failing: Array<[unknown, string]> = [
    [{ error: 'order not found' }, 'order not found'],
    [{ error: { message: 'order not found', code: 404 } }, 'order not found'],
    [JSON.stringify({ error: { message: 'order not found', code: 404 } }), 'order not found'],
    [{ ...many, error: 'order not found' }, 'order not found'],
    [{ error: { code: 404 } }, '{"code":404}'],
  ]
  for (const [result, message] of failing) {
    const { r, refunds: n } = await run(result)
    t.is(r.handover?.reason, 'tool_error', JSON.stringify(result))
    t.is(r.handover?.error, message)
    t.is(n, 0, 'no refund after a failed lookup')
  }
  for (const result of [{ amount: 5, error: null }, { amount: 5, error: false }, { amount: 5, error: '' }, { amount: 5, error: 0 }]) {
    const { r, refunds: n } = await run(result)
    t.is(r.status, 'done', JSON.stringify(result))
    t.is(n, 1)
  }
  // Training counts the same errors.
  const errorResults = (results: unknown[]): unknown =>
    recorded(workflowTools(TOOLS, [{ request: 'refund order A1', steps: results.map((result) => ({ tool: 'lookup_order', args: { order_id: 'A1' }, result })) }]), 'errorResults')
  t.is(errorResults(failing.map(([r]) => r)), failing.length)
  t.is(errorResults([{ error: null }, { error: false }, { error: '' }, { data: 1, error: null }]), 0)
})

test('next() copies a value from a result that has a `result` or `args` key of its own', (t) => {
  for (const wrap of [(x: object) => x, (x: object) => ({ result: x }), (x: object) => ({ args: x })]) {
    const train: Workflow[] = Array.from({ length: 10 }, (_, i) => {
      const id = `A${100 + i}`
      return {
        request: `refund ${id}`,
        steps: [
          { tool: 'lookup_order', args: { order_id: id }, result: wrap({ order_id: id, amount: 10 + i }) },
          { tool: 'refund_order', args: { order_id: id, amount: 10 + i }, result: { ok: true } },
        ],
      }
    })
    // The tagger found the order id in the request; the amount is only in the lookup's result.
    const router = scripted(workflowTools(TOOLS, train), [{ tool: 'refund_order', args: { order_id: 'A777' }, missing: ['amount'], complete: false }])
    const steps = [{ tool: 'lookup_order', args: { order_id: 'A777' }, result: wrap({ order_id: 'A777', amount: 42 }) }]
    const r = nextStep(router, 'refund A777', steps)
    t.deepEqual(r.args, { order_id: 'A777', amount: 42 }, JSON.stringify(wrap({})))
    t.true(r.complete)
  }
})

test('runChain hands a result with a cycle over as a tool error; a state with one renders', async (t) => {
  const cyclic: Record<string, unknown> = { refunded: 5 }
  cyclic.self = cyclic
  let refunds_ = 0
  const router = scripted(workflowTools(TOOLS), [
    { tool: 'lookup_order', args: { order_id: 'A1' } },
    { tool: 'refund_order', args: { order_id: 'A1', amount: 5 } },
    { tool: '__finish__' },
  ])
  const run = await runChain({
    router,
    request: 'refund A1',
    tools: {
      lookup_order: () => ({ order_id: 'A1', amount: 5 }),
      refund_order: () => {
        refunds_++
        return cyclic
      },
    },
  })
  t.is(refunds_, 1)
  t.is(run.status, 'handover')
  t.is(run.handover?.reason, 'tool_error')
  t.regex(run.handover?.error ?? '', /not JSON-serialisable/)
  t.deepEqual(run.handover?.failed, { tool: 'refund_order', args: { order_id: 'A1', amount: 5 } })
  t.deepEqual(
    run.steps.map((s) => s.tool),
    ['lookup_order'],
  )
  t.is(run.history.length, 2, 'the lookup that ran is kept')
  // A cycle of objects alone (no field to stop at) renders, and next() reads it.
  const a: Record<string, unknown> = { id: 'A1' }
  a.parent = { child: a }
  t.is(renderState('refund A1', [{ tool: 'lookup_order', args: {}, result: a }]), 'refund A1 | lookuporder → id=A1')
  const b: Record<string, unknown> = {}
  b.parent = { child: b }
  t.is(renderState('refund A1', [{ tool: 'lookup_order', args: {}, result: b }]), 'refund A1 | lookuporder → ')
  const again = scripted(workflowTools(TOOLS), [{ tool: 'refund_order', args: { order_id: 'A1', amount: 5 } }])
  t.is(nextStep(again, 'refund A1', [{ tool: 'lookup_order', args: {}, result: b }]).tool, 'refund_order')
})

test('workflowsFromTraces: a call whose arguments do not parse ends an unfinished workflow, no finish is taught', (t) => {
  const user = { role: 'user', content: 'refund A1' }
  const call = (id: string, name: string, args: string) => ({ id, type: 'function', function: { name, arguments: args } })
  const call1 = { role: 'assistant', content: null, tool_calls: [call('c1', 'lookup_order', '{"order_id":"A1"}')] }
  const res1 = { role: 'tool', tool_call_id: 'c1', content: '{"order_id":"A1","amount":5}' }
  const cut = { role: 'assistant', content: null, tool_calls: [call('c2', 'refund_order', '{"order_id":"A1","amou')] }
  const wfs = workflowsFromTraces([{ request: { messages: [user, call1, res1] }, response: { choices: [{ finish_reason: 'length', message: cut }] } }], {
    format: 'openai',
  })
  t.deepEqual(wfs, [{ request: 'refund A1', steps: [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: { order_id: 'A1', amount: 5 } }], finished: false }])
  t.deepEqual(
    examplesFromWorkflows(wfs).map((e) => e.tool),
    ['lookup_order'],
  )
  // Beside a good call, the good call and its result are kept, and nothing after them.
  const both = { role: 'assistant', content: null, tool_calls: [call('c1', 'lookup_order', '{"order_id":"A1"}'), call('c2', 'refund_order', '{"order_id')] }
  const res2 = { role: 'tool', tool_call_id: 'c2', content: 'invalid arguments' }
  const answer = { role: 'assistant', content: 'Done.' }
  const [w] = workflowsFromTraces([{ request: { messages: [user, both, res1, res2] }, response: { choices: [{ message: answer }] } }], { format: 'openai' })
  t.deepEqual(w, { request: 'refund A1', steps: [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: { order_id: 'A1', amount: 5 } }], finished: false })
  // Anthropic: a tool_use whose input is no object.
  const anthropic = {
    request: { messages: [{ role: 'user', content: 'refund A1' }] },
    response: { content: [{ type: 'tool_use', id: 't1', name: 'lookup_order', input: '{"order' }] },
  }
  t.deepEqual(workflowsFromTraces([anthropic], { format: 'anthropic' }), [])
})

test('next() takes `finish` in `exclude`, the name it answers for the end', async (t) => {
  const { router } = await sharedRouter()
  const request = 'refund order A5150'
  const lookup = { tool: 'lookup_order', args: { order_id: 'A5150' }, result: { order_id: 'A5150', status: 'delivered', amount: 88 } }
  const steps = [lookup, { tool: 'refund_order', args: { order_id: 'A5150', amount: 88 }, result: { refunded: 88 } }]
  t.is(router.next(request, steps, { threshold: 0 }).tool, FINISH)
  const r = router.next(request, steps, { threshold: 0, exclude: [FINISH] })
  t.not(r.tool, FINISH)
  t.false(r.alternatives.some((a) => a.tool === FINISH))
  // Given before the first call, where next() excludes it itself: once.
  const seen: Array<readonly string[] | undefined> = []
  nextStep(scripted(workflowTools(TOOLS, refunds(4, 5)), [{ tool: 'lookup_order', args: { order_id: 'A5150' } }], seen), request, [], { exclude: [FINISH, 'refund_order'] })
  t.deepEqual(seen[0], ['__finish__', 'refund_order'])
  t.throws(() => router.next(request, steps, { exclude: FINISH as unknown as string[] }), { code: 'INVALID_ARGUMENT' })
})

test('facts keep the letters of every script in their keys; ASCII keys and older routers read as before', (t) => {
  t.is(numberFacts('сумма', 4)[0], 'суммаge1')
  t.is(numberFacts('金额', 4)[0], '金额ge1')
  t.is(numberFacts('Größe', 4)[0], 'größege1')
  t.is(numberFacts('customer.tier_2', 4)[0], 'customertier2ge1')
  const steps = [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: { сумма: 730, количество: 2, 金额: 900, статус: 'новый' } }]
  const text = renderState('refund A1', steps)
  for (const fact of ['суммаge500', 'количествоge2', '金额ge500', 'статусновый']) t.true(text.includes(` ${fact}`), `${fact}: ${text}`)
  t.false(text.includes('valuege'), text)
  // A router trained on version 3 reads the keys as it was trained on them.
  const v3: ToolSpec = { name: '__finish__', parameters: { type: 'object', properties: {}, 'x-toolrouter-facts': 3 } }
  t.true(stateFor({ tools: [...TOOLS, v3] }, 'refund A1', steps).includes(' valuege500'))
  const ascii = [{ tool: 'lookup_order', args: { order_id: 'A1' }, result: { amount: 730, 'customer.tier': 'gold', ok: true } }]
  t.is(stateFor({ tools: [...TOOLS, v3] }, 'refund A1', ascii), renderState('refund A1', ascii))
})
