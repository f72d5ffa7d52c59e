// The multi-step workflow benchmark: a seeded generator of workflows over the demo tools plus the
// workflow tools of data/workflows/tools.json (look up an order, then refund it / ask for approval /
// cancel it / open a ticket; convert an expense and file it or ask for approval; check the weather
// and book a table or add the event; check a stock and email someone), with branches on values in
// the results (amount ≥ 500, eta ≥ 5 days, converted ≥ 1000, rain ≥ 50%, change ≤ -5%, statuses,
// approvals). Train and validation use one set of phrasings and values; the test set uses held-out
// phrasings and new values (ids, names, cities, tickers, activities, amounts).
//
// Usage: npm run eval:workflows [-- --json] [--seed N] [--train N] [--test N] [--sweep]
//   --sweep  trains the candidate options on some of the training phrasings and values and scores
//            them on the others (how the defaults in WORKFLOW_TRAINER_OPTIONS are picked); the test
//            split, its phrasings and its values are not touched. --fill-margins 1,2,off also scores
//            each trained router at those fill margins (Router.fillMargin). With --failures it lists each
//            candidate's wrong steps on that validation. With --options '{...}' it compares only the defaults
//            and the defaults with those options (e.g. '{"teacher":{"dir":".cache/minilm"}}'; options that
//            change nothing, such as '{"seed":N}' at --seed N, train the defaults once).
//   --failures  also lists the wrong steps (on the gold history) and the chains run locally and wrong.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import {
  examplesFromWorkflows,
  FINISH,
  loadTools,
  renderState,
  runChain,
  Trainer,
  workflowTools,
  WORKFLOW_TRAINER_OPTIONS,
  type ChainTool,
  Router,
  type TrainerOptions,
  type Workflow,
  type WorkflowStep,
} from '../index'

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

/** mulberry32: small, seeded, good enough for sampling. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rand = () => number
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
/** Log-uniform in [lo, hi]. */
const logUniform = (r: Rand, lo: number, hi: number): number => Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)))
const round2 = (x: number): number => Math.round(x * 100) / 100

/** Which decision a gold step is: a branch on a value in a result, or not. */
type Branch = 'threshold' | 'status' | 'approval' | null

/** A gold decision: the next call (or finish) and whether it branches on a value. */
interface Decision {
  tool: string
  args: Record<string, unknown>
  branch: Branch
}

/** One generated task: the request, the hidden world the tools answer from, and the policy. */
interface Task {
  template: string
  request: string
  /** Runs a tool against the hidden world (wrong arguments get an error result). */
  run(tool: string, args: Record<string, unknown>): unknown
  /** The right next decision after `steps`. */
  policy(steps: readonly WorkflowStep[]): Decision
}

/** The values a split draws from: train and validation share them, test has its own. */
interface Pools {
  names: string[]
  emails: string[]
  cities: string[]
  activities: string[]
  tickers: string[]
  days: string[]
  currencies: string[]
}

const TRAIN_POOLS: Pools = {
  names: ['Marta', 'Jonas', 'Priya', 'Tom', 'Aiko', 'Lena', 'Omar', 'Sofia', 'Ben', 'Chloe'],
  emails: ['dana@example.com', 'li.wei@acme.io', 'r.costa@mail.pt', 'sam@shop.co', 'eva.k@web.de'],
  cities: ['Oslo', 'Lisbon', 'Denver', 'Kyoto', 'Berlin', 'Austin', 'Dublin', 'Lyon', 'Porto', 'Seattle'],
  activities: ['picnic', 'barbecue', 'hike', 'bike ride', 'football match'],
  tickers: ['AAPL', 'NVDA', 'MSFT', 'TSLA', 'AMZN', 'META', 'INTC', 'ORCL'],
  days: ['Saturday', 'Sunday', 'Friday', 'tomorrow', 'Monday'],
  currencies: ['GBP', 'USD', 'CHF', 'SEK'],
}

const TEST_POOLS: Pools = {
  names: ['Nadia', 'Hugo', 'Ingrid', 'Kofi', 'Mei'],
  emails: ['ops@northwind.com', 'j.doe@corp.net', 'anna.b@post.se'],
  cities: ['Reykjavik', 'Madrid', 'Boston', 'Vienna', 'Osaka', 'Prague'],
  activities: ['beach day', 'garden party', 'kayak trip'],
  tickers: ['AMD', 'IBM', 'SHOP', 'UBER', 'ADBE'],
  days: ['Sunday', 'Thursday', 'next Saturday', 'Wednesday'],
  currencies: ['USD', 'GBP', 'NOK', 'JPY'],
}

const RATES: Record<string, number> = { GBP: 1.17, USD: 0.92, CHF: 1.04, SEK: 0.087, NOK: 0.086, JPY: 0.0062 }

/** Phrasings per template: the first ones train (and validate), the last `HELD_OUT` are the test's. */
const PHRASES: Record<string, string[]> = {
  refund: [
    'refund order {id}, it arrived broken',
    'I want my money back for order {id}',
    'please process a refund for {id}',
    'order {id} was damaged, can you refund it?',
    'the customer on order {id} wants a refund',
    'refund {id} for me',
    // held out
    'can I get a refund on my order {id}? the item is faulty',
    'start the refund for order number {id}',
    'money back please, order {id} is not what I ordered',
  ],
  late: [
    'where is order {id}? email {to} if it is running late',
    'check order {id} and let {to} know by email if it will be late',
    'track {id} and warn {to} if the delivery is delayed',
    'is order {id} late? if so tell {to}',
    'look up {id}, and if it is delayed send {to} an email',
    'has {id} shipped? email {to} about any delay',
    // held out
    'find out when order {id} arrives and notify {to} if it is going to be late',
    'keep {to} posted by email if order {id} is delayed',
    'check the delivery of {id}; if it is slow, write to {to}',
  ],
  expense: [
    'convert the {amount} {cur} on expense report {rid} to EUR and file it',
    'file expense report {rid}: {amount} {cur}, converted to EUR',
    'submit {rid} for {amount} {cur} in EUR',
    'I spent {amount} {cur}, report {rid}, please convert to EUR and submit',
    'expense {rid} is {amount} {cur}; turn it into EUR and file it',
    'please file report {rid} with {amount} {cur} converted into EUR',
    // held out
    'reimburse me for {amount} {cur} on report {rid}, in EUR',
    'can you put through expense report {rid}? {amount} {cur}, EUR please',
    'log {amount} {cur} under report {rid} after converting it to EUR',
  ],
  outing: [
    'plan a {activity} for {n} in {city} on {day}',
    'we want a {activity} in {city} {day}, {n} people',
    'organise a {activity} in {city} on {day} for {n} of us',
    'set up a {activity} for {n} people in {city} on {day}',
    'can you arrange a {activity} in {city} on {day}? we are {n}',
    '{n} of us want a {activity} in {city} on {day}',
    // held out
    'a {activity} in {city} on {day} with {n} friends, sort it out',
    'book our {activity} in {city} for {day}, party of {n}',
    'get a {activity} going for {n} in {city} on {day}',
  ],
  stock: [
    'check {sym} and email {to} if it dropped a lot today',
    'how is {sym} doing? tell {to} if it crashed',
    'look at {sym} and warn {to} by email on a big fall',
    'if {sym} fell sharply today, email {to}',
    'watch {sym} for me and let {to} know if it tanks',
    'get the price of {sym} and email {to} if it is way down',
    // held out
    'did {sym} plunge today? if yes, send {to} a note',
    'check whether {sym} took a big hit and alert {to}',
    'see how {sym} is trading and mail {to} if it dropped hard',
  ],
}
const HELD_OUT = 3
/** Training phrasings per template that the sweep holds out to validate on (see `generate`). */
const SWEEP_HELD_OUT = 2

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k]))
}

function orderId(r: Rand): string {
  const forms = [
    () => `A${int(r, 100, 9999)}`,
    () => `${int(r, 10, 99)}-${int(r, 1000, 9999)}`,
    () => `ORD${int(r, 10000, 99999)}`,
    () => `${String.fromCharCode(65 + int(r, 0, 25))}${String.fromCharCode(65 + int(r, 0, 25))}${int(r, 1000, 9999)}`,
  ]
  return pick(r, forms)()
}

const finish = (branch: Branch = null): Decision => ({ tool: FINISH, args: {}, branch })
const matches = (args: Record<string, unknown>, want: Record<string, unknown>): boolean =>
  Object.entries(want).every(([k, v]) => args[k] === v)

/** Orders: look up, then by status and amount (≥ 500 needs approval) cancel, ticket, refund. */
function refundTask(r: Rand, pools: Pools, phrase: string): Task {
  const id = orderId(r)
  const status = pick(r, ['delivered', 'delivered', 'processing', 'lost'])
  const amount = r() < 0.5 ? int(r, 15, 3000) : round2(logUniform(r, 15, 3000))
  const approved = r() < 0.7
  const items = int(r, 1, 6)
  const eta = int(r, 2, 9)
  const ticket = `T-${int(r, 1000, 9999)}`
  void pools
  return {
    template: 'refund',
    request: fill(phrase, { id }),
    run(tool, args) {
      if (tool === 'lookup_order') {
        if (args.order_id !== id) return { error: 'order not found' }
        return { order_id: id, status, amount, items, eta_days: status === 'processing' ? eta : 0 }
      }
      if (tool === 'request_approval') return { approved }
      if (tool === 'refund_order') return { refunded: args.amount, status: 'ok' }
      if (tool === 'cancel_order') return { cancelled: true }
      if (tool === 'open_ticket') return { ticket, status: 'open' }
      return { error: `unexpected tool ${tool}` }
    },
    policy(steps) {
      if (steps.length === 0) return { tool: 'lookup_order', args: { order_id: id }, branch: null }
      if (steps.length === 1) {
        if (status === 'processing') return { tool: 'cancel_order', args: { order_id: id }, branch: 'status' }
        if (status === 'lost') return { tool: 'open_ticket', args: { order_id: id, reason: 'lost' }, branch: 'status' }
        if (amount >= 500) return { tool: 'request_approval', args: { reference: id, amount }, branch: 'threshold' }
        return { tool: 'refund_order', args: { order_id: id, amount }, branch: 'threshold' }
      }
      const last = steps[steps.length - 1]
      if (last.tool === 'request_approval') {
        return approved ? { tool: 'refund_order', args: { order_id: id, amount }, branch: 'approval' } : finish('approval')
      }
      return finish()
    },
  }
}

/** Orders in transit: look up, then email someone when the eta is 5 days or more. */
function lateTask(r: Rand, pools: Pools, phrase: string): Task {
  const id = orderId(r)
  const to = r() < 0.6 ? pick(r, pools.names) : pick(r, pools.emails)
  const eta = int(r, 1, 14)
  const amount = int(r, 15, 900)
  const items = int(r, 1, 4)
  return {
    template: 'late',
    request: fill(phrase, { id, to }),
    run(tool, args) {
      if (tool === 'lookup_order') {
        if (args.order_id !== id) return { error: 'order not found' }
        return { order_id: id, status: 'shipped', amount, items, eta_days: eta }
      }
      if (tool === 'send_email') return { sent: true }
      return { error: `unexpected tool ${tool}` }
    },
    policy(steps) {
      if (steps.length === 0) return { tool: 'lookup_order', args: { order_id: id }, branch: null }
      if (steps.length === 1) return eta >= 5 ? { tool: 'send_email', args: { to }, branch: 'threshold' } : finish('threshold')
      return finish()
    },
  }
}

/** Expenses: convert to EUR, then file it, or ask for approval first from 1000 EUR. */
function expenseTask(r: Rand, pools: Pools, phrase: string): Task {
  const cur = pick(r, pools.currencies)
  const rate = RATES[cur]
  const original = Math.max(1, Math.round(logUniform(r, 80, 4000) / rate))
  const converted = round2(original * rate)
  const rid = `R-${int(r, 1000, 9999)}`
  const approved = r() < 0.7
  return {
    template: 'expense',
    request: fill(phrase, { amount: original, cur, rid }),
    run(tool, args) {
      if (tool === 'convert_currency') {
        if (!matches(args, { from_currency: cur, to_currency: 'EUR' }) || args.amount !== original) {
          return { error: 'bad conversion request' }
        }
        return { amount: converted, currency: 'EUR', rate }
      }
      if (tool === 'request_approval') return { approved }
      if (tool === 'submit_expense') return { status: 'filed', id: rid }
      return { error: `unexpected tool ${tool}` }
    },
    policy(steps) {
      if (steps.length === 0) {
        return { tool: 'convert_currency', args: { amount: original, from_currency: cur, to_currency: 'EUR' }, branch: null }
      }
      const last = steps[steps.length - 1]
      if (last.tool === 'convert_currency') {
        return converted >= 1000
          ? { tool: 'request_approval', args: { reference: rid, amount: converted }, branch: 'threshold' }
          : { tool: 'submit_expense', args: { report_id: rid, amount: converted }, branch: 'threshold' }
      }
      if (last.tool === 'request_approval') {
        return approved ? { tool: 'submit_expense', args: { report_id: rid, amount: converted }, branch: 'approval' } : finish('approval')
      }
      return finish()
    },
  }
}

/** Outings: check the weather, then book a table when rain is 50% likely or more, else add the event. */
function outingTask(r: Rand, pools: Pools, phrase: string): Task {
  const activity = pick(r, pools.activities)
  const city = pick(r, pools.cities)
  const day = pick(r, pools.days)
  const n = int(r, 2, 12)
  const rain = int(r, 0, 100)
  const temp = int(r, -3, 31)
  const condition = rain >= 50 ? pick(r, ['rain', 'showers', 'cloudy']) : pick(r, ['sunny', 'cloudy', 'clear'])
  const eventId = `E${int(r, 100, 999)}`
  return {
    template: 'outing',
    request: fill(phrase, { activity, city, day, n }),
    run(tool, args) {
      if (tool === 'get_weather') {
        if (args.city !== city) return { error: 'unknown city' }
        return { city, condition, rain_chance: rain, temp_c: temp }
      }
      if (tool === 'book_restaurant') return { booked: true, restaurant: 'Casa Nova', time: '19:00' }
      if (tool === 'create_calendar_event') return { event_id: eventId, status: 'created' }
      return { error: `unexpected tool ${tool}` }
    },
    policy(steps) {
      if (steps.length === 0) return { tool: 'get_weather', args: { city, date: day }, branch: null }
      if (steps.length === 1) {
        return rain >= 50
          ? { tool: 'book_restaurant', args: { party_size: n, date: day }, branch: 'threshold' }
          : { tool: 'create_calendar_event', args: { title: activity, date: day }, branch: 'threshold' }
      }
      return finish()
    },
  }
}

/** Stocks: check the price, then email someone when the day's change is -5% or worse. */
function stockTask(r: Rand, pools: Pools, phrase: string): Task {
  const sym = pick(r, pools.tickers)
  const to = pick(r, pools.names)
  const change = Math.round((r() * 22 - 13) * 10) / 10
  const price = round2(logUniform(r, 8, 900))
  const volume = int(r, 100000, 9000000)
  return {
    template: 'stock',
    request: fill(phrase, { sym, to }),
    run(tool, args) {
      if (tool === 'get_stock_price') {
        if (args.symbol !== sym) return { error: 'unknown symbol' }
        return { symbol: sym, price, change_pct: change, volume }
      }
      if (tool === 'send_email') return { sent: true }
      return { error: `unexpected tool ${tool}` }
    },
    policy(steps) {
      if (steps.length === 0) return { tool: 'get_stock_price', args: { symbol: sym }, branch: null }
      if (steps.length === 1) return change <= -5 ? { tool: 'send_email', args: { to }, branch: 'threshold' } : finish('threshold')
      return finish()
    },
  }
}

const TEMPLATES = { refund: refundTask, late: lateTask, expense: expenseTask, outing: outingTask, stock: stockTask }
type TemplateName = keyof typeof TEMPLATES

/**
 * `n` tasks per template; `test` draws the held-out phrasings and the test values. The sweep
 * splits the training phrasings and values once more, so that options are chosen on phrasings
 * and values they were not trained on (as the test measures them) without touching the test's:
 * `sweep-train` takes the first phrasings, `sweep-valid` the last {@link SWEEP_HELD_OUT}, and the
 * values as {@link sweepPools} splits them.
 */
type Split = 'train' | 'valid' | 'test' | 'sweep-train' | 'sweep-valid'

/**
 * The training values as the sweep splits them: the last third of each pool (at least one value)
 * is `sweep-valid`'s, the rest `sweep-train`'s, so that the sweep scores new values in new
 * phrasings, as the test does.
 */
function sweepPools(valid: boolean): Pools {
  const split = (xs: string[]): string[] => {
    const cut = xs.length - Math.max(1, Math.floor(xs.length / 3))
    return valid ? xs.slice(cut) : xs.slice(0, cut)
  }
  return Object.fromEntries(Object.entries(TRAIN_POOLS).map(([k, v]) => [k, split(v)])) as unknown as Pools
}

function generate(seed: number, n: number, split: Split): Task[] {
  const r = rng(seed)
  const pools = split === 'test' ? TEST_POOLS : split === 'sweep-train' ? sweepPools(false) : split === 'sweep-valid' ? sweepPools(true) : TRAIN_POOLS
  const out: Task[] = []
  for (const name of Object.keys(TEMPLATES) as TemplateName[]) {
    const phrases = PHRASES[name]
    const cut = phrases.length - HELD_OUT
    const range: Record<Split, [number, number]> = {
      train: [0, cut],
      valid: [0, cut],
      test: [cut, phrases.length],
      'sweep-train': [0, cut - SWEEP_HELD_OUT],
      'sweep-valid': [cut - SWEEP_HELD_OUT, cut],
    }
    const own = phrases.slice(...range[split])
    for (let i = 0; i < n; i++) out.push(TEMPLATES[name](r, pools, pick(r, own)))
  }
  return out
}

/** The gold workflow of a task: its policy rolled out against its world. */
function rollout(task: Task): { workflow: Workflow; decisions: Decision[] } {
  const steps: WorkflowStep[] = []
  const decisions: Decision[] = []
  for (;;) {
    const d = task.policy(steps)
    decisions.push(d)
    if (d.tool === FINISH || steps.length > 8) break
    steps.push({ tool: d.tool, args: d.args, result: task.run(d.tool, d.args) })
  }
  return { workflow: { request: task.request, steps }, decisions }
}

// ---------------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------------

function sameArgs(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false
  return ka.every((k) => (typeof a[k] === 'number' && typeof b[k] === 'number' ? Math.abs((a[k] as number) - (b[k] as number)) < 1e-9 : a[k] === b[k]))
}

interface Scores {
  steps: number
  step_accuracy: number
  step_tool_accuracy: number
  branch_steps: number
  branch_accuracy: number
  branch_accuracy_by_kind: Record<string, number>
  chains: number
  handed_over: number
  handover_rate: number
  /** Why chains went to the LLM: `<reason> at step <k>` → chains. */
  handover_reasons: Record<string, number>
  /** Over the chains not handed over: every step (tool and arguments) right and `finish` at the end. */
  chain_success: number
  /** Chains run locally and right, over all chains. */
  chain_success_all: number
  per_template: Record<string, { chains: number; handover_rate: number; chain_success: number; step_accuracy: number }>
}

async function score(router: Router, tasks: Task[], showWrongChains = false): Promise<Scores> {
  let steps = 0
  let stepsRight = 0
  let toolsRight = 0
  const branch: Record<string, [number, number]> = {}
  let handed = 0
  let success = 0
  const reasons: Record<string, number> = {}
  const per: Record<string, { chains: number; handed: number; success: number; steps: number; right: number }> = {}
  for (const task of tasks) {
    const p = (per[task.template] ??= { chains: 0, handed: 0, success: 0, steps: 0, right: 0 })
    p.chains++
    // Per step, on the gold history (teacher forcing), the best label without a threshold.
    const { workflow, decisions } = rollout(task)
    decisions.forEach((d, k) => {
      const route = router.next(task.request, workflow.steps.slice(0, k), { threshold: 0 })
      const best = route.tool ?? route.alternatives[0]?.tool ?? null
      const toolOk = best === d.tool
      const ok = toolOk && route.tool !== null && sameArgs(route.args, d.args)
      steps++
      p.steps++
      if (toolOk) toolsRight++
      if (ok) {
        stepsRight++
        p.right++
      }
      if (d.branch !== null) {
        const b = (branch[d.branch] ??= [0, 0])
        b[0] += toolOk ? 1 : 0
        b[1]++
      }
    })
    // The whole chain, run locally at the router's threshold against the task's world.
    const tools: Record<string, ChainTool> = {}
    for (const t of router.tools) tools[t.name] = (args) => task.run(t.name, args)
    const run = await runChain({ router, tools, request: task.request, maxSteps: 6 })
    if (run.status === 'handover') {
      handed++
      p.handed++
      const why = `${run.handover?.reason ?? 'unknown'} at step ${run.steps.length + 1}`
      reasons[why] = (reasons[why] ?? 0) + 1
      continue
    }
    const gold = workflow.steps
    const right = run.steps.length === gold.length && run.steps.every((s, i) => s.tool === gold[i].tool && sameArgs(s.args, gold[i].args))
    if (right) {
      success++
      p.success++
    } else if (showWrongChains) {
      const calls = (ss: readonly WorkflowStep[]): string => ss.map((s) => `${s.tool}(${JSON.stringify(s.args)})`).join(' → ')
      console.log(`${task.template} chain run locally and wrong: ${task.request}\n    gold ${calls(gold)}\n    ran  ${calls(run.steps)}`)
    }
  }
  const bs = Object.values(branch).reduce((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0])
  const local = tasks.length - handed
  return {
    steps,
    step_accuracy: stepsRight / steps,
    step_tool_accuracy: toolsRight / steps,
    branch_steps: bs[1],
    branch_accuracy: bs[1] === 0 ? 1 : bs[0] / bs[1],
    branch_accuracy_by_kind: Object.fromEntries(Object.entries(branch).map(([k, [a, n]]) => [k, a / n])),
    chains: tasks.length,
    handed_over: handed,
    handover_rate: handed / tasks.length,
    handover_reasons: Object.fromEntries(Object.entries(reasons).sort((a, b) => b[1] - a[1])),
    chain_success: local === 0 ? 0 : success / local,
    chain_success_all: success / tasks.length,
    per_template: Object.fromEntries(
      Object.entries(per).map(([k, v]) => [
        k,
        {
          chains: v.chains,
          handover_rate: v.handed / v.chains,
          chain_success: v.chains - v.handed === 0 ? 0 : v.success / (v.chains - v.handed),
          step_accuracy: v.right / v.steps,
        },
      ]),
    ),
  }
}

/** Prints the wrong steps (gold history), for error analysis. */
function showFailures(router: Router, tasks: Task[]): void {
  for (const task of tasks) {
    const { workflow, decisions } = rollout(task)
    decisions.forEach((d, k) => {
      const route = router.next(task.request, workflow.steps.slice(0, k), { threshold: 0 })
      const best = route.tool ?? route.alternatives[0]?.tool ?? null
      if (best === d.tool && sameArgs(route.args, d.args)) return
      console.log(`${task.template} step ${k + 1}: gold ${d.tool} ${JSON.stringify(d.args)}  got ${best} ${JSON.stringify(route.args)} (${route.confidence.toFixed(2)}); next: ${route.alternatives.map((a) => `${a.tool} (${a.confidence.toFixed(2)})`).join(', ')}`)
      console.log(`    ${renderState(task.request, workflow.steps.slice(0, k)).slice(0, 300)}`)
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      train: { type: 'string', default: '60' },
      test: { type: 'string', default: '40' },
      sweep: { type: 'boolean', default: false },
      options: { type: 'string' },
      save: { type: 'string' },
      load: { type: 'string' },
      failures: { type: 'boolean', default: false },
      'fill-margins': { type: 'string' },
      'write-data': { type: 'string' },
    },
  })
  const seed = Number(values.seed)
  const nTrain = Number(values.train)
  const nTest = Number(values.test)
  const root = path.join(__dirname, '..')
  const trainTasks = generate(seed, nTrain, 'train')
  const tools = workflowTools(
    [...(await loadTools(path.join(root, 'data/demo/tools.json'))), ...(await loadTools(path.join(root, 'data/workflows/tools.json')))],
    trainTasks.map((t) => rollout(t).workflow),
  )
  const validTasks = generate(seed + 1, Math.max(8, Math.round(nTrain / 4)), 'valid')
  const train = examplesFromWorkflows(trainTasks.map((t) => rollout(t).workflow))
  const valid = examplesFromWorkflows(validTasks.map((t) => rollout(t).workflow))
  const log = (s: string): void => {
    if (!values.json) console.log(s)
  }
  if (values['write-data']) {
    const dir = values['write-data']
    fs.mkdirSync(dir, { recursive: true })
    const lines = (ts: Task[]): string => ts.map((t) => JSON.stringify(rollout(t).workflow)).join('\n') + '\n'
    fs.writeFileSync(path.join(dir, 'train.jsonl'), lines(trainTasks))
    fs.writeFileSync(path.join(dir, 'valid.jsonl'), lines(validTasks))
    fs.writeFileSync(path.join(dir, 'test.jsonl'), lines(generate(seed + 2, nTest, 'test')))
    log(`Wrote ${dir}/{train,valid,test}.jsonl`)
    return
  }
  const extra = values.options ? (JSON.parse(values.options) as TrainerOptions) : {}

  if (values.sweep) {
    const all: TrainerOptions[] = [
      WORKFLOW_TRAINER_OPTIONS,
      { ...WORKFLOW_TRAINER_OPTIONS, dModel: 64, layers: 2, heads: 4 },
      { ...WORKFLOW_TRAINER_OPTIONS, pretrained: 'none' },
      { ...WORKFLOW_TRAINER_OPTIONS, argWeight: 1 },
      { ...WORKFLOW_TRAINER_OPTIONS, featureDropout: 0.8 },
      { ...WORKFLOW_TRAINER_OPTIONS, maxTokens: 96 },
      { ...WORKFLOW_TRAINER_OPTIONS, wordShapes: false },
      { ...WORKFLOW_TRAINER_OPTIONS, valueSwap: 0.25, valueSwapRepeated: false },
      { ...WORKFLOW_TRAINER_OPTIONS, valueSwap: 0.25, valueSwapRepeated: false, valueSwapAny: 0.5 },
    ]
    // `--options '{"seed":N}'` at `--seed N` trains the default once, not twice.
    const effective = (c: TrainerOptions): string => JSON.stringify(Object.entries({ seed, ...c }).sort(([a], [b]) => (a < b ? -1 : 1)))
    const candidates = (values.options ? [WORKFLOW_TRAINER_OPTIONS, { ...WORKFLOW_TRAINER_OPTIONS, ...extra }] : all).filter(
      (c, i, cs) => cs.findIndex((d) => effective(d) === effective(c)) === i,
    )
    // Trained on some training phrasings (early stopping on the same ones, as the real training
    // does), scored on the other training phrasings: the test's phrasings stay unseen.
    const sweepTrainTasks = generate(seed, nTrain, 'sweep-train')
    const sweepTrain = examplesFromWorkflows(sweepTrainTasks.map((t) => rollout(t).workflow))
    const sweepStop = examplesFromWorkflows(
      generate(seed + 1, Math.max(8, Math.round(nTrain / 4)), 'sweep-train').map((t) => rollout(t).workflow),
    )
    // As many validation workflows as training ones: scoring is cheap, and 15 chains a template
    // left the candidates within noise of each other.
    const sweepValidTasks = generate(seed + 3, nTrain, 'sweep-valid')
    const rows = []
    for (const c of candidates) {
      const t0 = performance.now()
      const router = await new Trainer({ tools, seed, ...c }).fit(sweepTrain, { valid: sweepStop })
      if (values.failures) showFailures(router, sweepValidTasks)
      const s = await score(router, sweepValidTasks, values.failures)
      const row = { options: c, train_s: (performance.now() - t0) / 1000, ...s, per_template: undefined }
      rows.push(row)
      log(
        `${JSON.stringify(c).padEnd(42)} step ${pct(s.step_accuracy)}  branch ${pct(s.branch_accuracy)}  chain ${pct(s.chain_success)}  ` +
          `handover ${pct(s.handover_rate)}  ${row.train_s.toFixed(0)} s`,
      )
      log(`  handed over by template: ${Object.entries(s.per_template).map(([k, v]) => `${k} ${pct(v.handover_rate)}`).join(', ')}`)
      log(`  why: ${reasonsLine(s)}`)
      // The same router at other fill margins (`off`: none): how README's FILL_MARGIN was chosen.
      const margins = (values['fill-margins'] ?? '').split(',').filter(Boolean)
      const atMargins = []
      for (const m of margins) {
        router.fillMargin = m === 'off' ? null : Number(m)
        const sm = await score(router, sweepValidTasks)
        atMargins.push({ fill_margin: m, step_accuracy: sm.step_accuracy, chain_success: sm.chain_success, handover_rate: sm.handover_rate })
        log(`  fill margin ${m}: step ${pct(sm.step_accuracy)}  chain ${pct(sm.chain_success)}  handover ${pct(sm.handover_rate)}`)
      }
      if (margins.length > 0) Object.assign(row, { fill_margins: atMargins })
    }
    if (values.json) console.log(JSON.stringify({ split: 'sweep-valid', seed, rows }))
    return
  }

  const options: TrainerOptions = { tools, seed, ...WORKFLOW_TRAINER_OPTIONS, ...extra }
  log(`Training on ${train.length} workflow states (${trainTasks.length} workflows, ${Object.keys(TEMPLATES).length} templates)…`)
  const t0 = performance.now()
  const router = values.load ? await Router.load(values.load) : await new Trainer(options).fit(train, { valid })
  const trainS = (performance.now() - t0) / 1000
  if (values.save) await router.save(values.save)
  const testTasks = generate(seed + 2, nTest, 'test')
  if (values.failures) showFailures(router, testTasks)
  const s = await score(router, testTasks, values.failures)
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.arch()}`
  const report = {
    ...s,
    seed,
    train_workflows: trainTasks.length,
    train_examples: train.length,
    valid_workflows: validTasks.length,
    test_workflows: testTasks.length,
    train_seconds: Math.round(trainS * 10) / 10,
    threshold: router.threshold,
    options: { ...WORKFLOW_TRAINER_OPTIONS, ...extra },
    machine,
  }
  if (values.json) {
    console.log(JSON.stringify(report))
    return
  }
  log(`Trained in ${trainS.toFixed(1)} s (best epoch ${router.training.best_epoch} of ${router.training.epochs_run}); threshold ${router.threshold.toFixed(3)}.`)
  log('')
  log(`Test: ${testTasks.length} workflows with held-out phrasings and new values (${s.steps} steps).`)
  log('')
  log('| template | chains | step accuracy | handed over | chain success (local) |')
  log('|---|---|---|---|---|')
  for (const [k, v] of Object.entries(s.per_template)) {
    log(`| ${k} | ${v.chains} | ${pct(v.step_accuracy)} | ${pct(v.handover_rate)} | ${pct(v.chain_success)} |`)
  }
  log(`| **all** | ${s.chains} | ${pct(s.step_accuracy)} | ${pct(s.handover_rate)} | ${pct(s.chain_success)} |`)
  log('')
  log(`step accuracy      ${pct(s.step_accuracy)}  (tool and arguments, gold history; tool alone ${pct(s.step_tool_accuracy)})`)
  log(
    `branch accuracy    ${pct(s.branch_accuracy)}  (${s.branch_steps} value-dependent decisions: ` +
      `${Object.entries(s.branch_accuracy_by_kind)
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(', ')})`,
  )
  log(`chain success      ${pct(s.chain_success)}  of the ${s.chains - s.handed_over} chains run locally (${pct(s.chain_success_all)} of all)`)
  log(`handover rate      ${pct(s.handover_rate)}  (${s.handed_over} of ${s.chains} chains went to the LLM: ${reasonsLine(s)})`)
}

/** `incomplete at step 2: 12, …`: why and where the chains went to the LLM. */
function reasonsLine(s: Scores): string {
  return Object.entries(s.handover_reasons).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
