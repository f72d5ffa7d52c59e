/**
 * Multi-step workflows: the router picks the next tool from the request and the steps so far (each
 * step's call and a compact rendering of its result), or `finish` when the work is done, so a whole
 * chain of calls can run locally and the LLM only sees the outcome.
 *
 * One workflow state is one ordinary example: its `text` is a deterministic rendering of the request
 * and the steps ({@link renderState}), its `tool` the next step's tool (or `finish`), and its spans
 * point at the argument values wherever they occur in that text, in the request or inside an earlier
 * result, so the existing argument tagger points into the rendered history. Numbers in results are
 * followed (at the end of the text, where the n-gram features see them) by threshold facts on a fixed
 * log-spaced grid, `amountge500` for "amount ≥ 500" and `amountlt500` for "under 500" when 500 is near,
 * so rules such as "over 500 needs an approval" are single features a router can learn from examples.
 *
 * @example
 * ```ts
 * import { examplesFromWorkflows, loadWorkflows, runChain, Trainer, workflowTools, WORKFLOW_TRAINER_OPTIONS } from 'toolrouter'
 * const workflows = await loadWorkflows('workflows.jsonl')
 * const router = await new Trainer({ tools: workflowTools(tools), ...WORKFLOW_TRAINER_OPTIONS }).fit(examplesFromWorkflows(workflows))
 * router.next('refund order A123, it arrived broken', []) // { tool: 'lookup_order', args: { order_id: 'A123' }, ... }
 * const run = await runChain({ router, tools: executors, request: 'refund order A123, it arrived broken' })
 * ```
 */
import { readFile } from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'

import Ajv, { type ValidateFunction } from 'ajv'

import type { Example, Route, RouteOneOptions, Router, Span, ToolSpec } from '../index.js'
import { throwIfAborted, ToolrouterError } from './errors'
import { checkFormat, newToolCallId, toSyntheticHistory, type HistoryFormat, type SyntheticHistoryMap } from './history'
import { argsObject, codePoints, conversation, type TraceFormat } from './traces'

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** One step of a workflow: the call and what it returned. */
export interface WorkflowStep {
  tool: string
  args: Record<string, unknown>
  /**
   * What the tool returned (any JSON value; an `Error` renders as `error <message>`). Only the last
   * step of an unfinished workflow may lack it (a call whose result was never recorded).
   */
  result?: unknown
}

/** A whole workflow: the request, the calls made for it in order, and whether the work was done. */
export interface Workflow {
  request: string
  steps: WorkflowStep[]
  /**
   * The work was done after the last step: the workflow teaches `finish` there too.
   * @default true
   */
  finished?: boolean
}

/** What {@link Router.next} returns as `tool` when the work is done. No tool may be named so (tools files reserve it). */
export const FINISH = 'finish'

/**
 * The label the router is trained on for {@link FINISH} (`finish` itself is reserved in tools files):
 * the name of {@link FINISH_TOOL}. `router.route()` returns it; `router.next()` maps it to `'finish'`.
 */
export const FINISH_LABEL = '__finish__'

/**
 * The schema key of {@link FINISH_TOOL} that says which threshold facts the router was trained on
 * ({@link numberFacts}): 4, as 3 with the letters and digits of every script kept in the facts' keys
 * (`сумма`, `金额`; 3 kept a-z and 0-9 alone, and such keys became `value`); 3, both sides of each
 * threshold and a fact per yes/no or one-word field ({@link valueFacts}); 2, the numbers' facts
 * alone; absent in routers trained before, which saw only the `ge` side. {@link Router.next} renders
 * a state as its router was trained on it.
 */
const FACTS_KEY = 'x-toolrouter-facts'

/** The threshold facts {@link renderState} writes (see {@link FACTS_KEY}). */
const FACTS_VERSION = 4

/** The pseudo-tool that ends a workflow: no arguments. Add it to the tools of a workflow router ({@link workflowTools}). */
export const FINISH_TOOL: ToolSpec = {
  name: FINISH_LABEL,
  description: 'The workflow is done: no further tool call is needed.',
  parameters: { type: 'object', properties: {}, [FACTS_KEY]: FACTS_VERSION },
}

/**
 * Training options for workflow routers, compared on generated workflows whose phrasings and values
 * the candidates were not trained on (`npm run eval:workflows -- --sweep`, never its test set): a
 * window of 64 tokens (the request and the first steps; the n-gram features still see the whole
 * state, threshold facts included), a small transformer (the default 64 × 2 layers validated no
 * better on new phrasings and is 2× slower to train on states this long), a heavier argument loss
 * with no early stop before 60 epochs (the tagger learns more slowly than the tool head), and
 * fewer n-grams dropped per step than for plain routing (0.3 instead of 0.8: a state's threshold
 * facts and earlier results are n-grams the next step depends on), and word shapes (the ids,
 * names and e-mail addresses a request gives: 89.3% against 76.9% mean step accuracy over 3
 * seeds; off by default elsewhere, see `wordShapes`), and no swapped argument values (`valueSwap`
 * 0: a state repeats its values in the request and the earlier results, and a swap in one place
 * breaks that; at the library's 0.25 the sweep handed over 37.3% of chains against 25.3%), and the
 * pretrained word table kept fixed (`freezePretrained`: the new values and phrasings of a request
 * keep the meaning the trained words started from; 80.7% against 76.9% mean step accuracy over 3
 * seeds on new values), and a threshold fitted for 97% of the validation steps right, not 99%
 * (`targetPrecision`: a chain is what has to be right, 90% of those run locally; at 0.99 the sweep
 * handed 36.8% of the chains over and ran 95.0% of the rest right, at 0.97 18.8% and 91.6%, means
 * over 3 seeds). docs/eval-workflows.md has the sweep.
 */
export const WORKFLOW_TRAINER_OPTIONS = {
  maxTokens: 64,
  dModel: 32,
  layers: 1,
  heads: 2,
  epochs: 60,
  patience: 60,
  argWeight: 2,
  featureDropout: 0.3,
  wordShapes: true,
  valueSwap: 0,
  freezePretrained: true,
  targetPrecision: 0.97,
} as const

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function invalid(name: string, reason: string): ToolrouterError {
  return new ToolrouterError('INVALID_ARGUMENT', `invalid argument \`${name}\`: ${reason}`)
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** One line, no separators the renderer uses, at most `max` characters. */
function clean(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').replace(/\|/g, '/').trim()
  return one.length > max ? `${one.slice(0, max)}…` : one
}

/** Numbers as plain decimals (no exponent for the magnitudes tools return). */
function num(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0)
  return String(n)
}

function valueText(v: unknown, max: number): string {
  if (typeof v === 'string') return clean(v, max)
  if (typeof v === 'number') return num(v)
  if (typeof v === 'boolean' || v === null) return String(v)
  if (v === undefined) return 'none'
  if (Array.isArray(v) && v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) {
    return v.map((x) => valueText(x, max)).join(',')
  }
  try {
    return clean(JSON.stringify(v), max)
  } catch {
    return clean(String(v), max)
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** Longest string value kept in a rendered result or argument. */
const MAX_VALUE = 60
/** Most fields rendered per result. */
const MAX_FIELDS = 12
/** Most items of an array rendered. */
const MAX_ITEMS = 3

/** The threshold grid: 1, 2, 3, 5 × 10^k from 1 to 5·10^9 (ratio ≤ 2 between neighbours). */
const GRID: readonly number[] = (() => {
  const out: number[] = []
  for (let k = 0; k <= 9; k++) for (const m of [1, 2, 3, 5]) out.push(m * 10 ** k)
  return out
})()

/**
 * `customer.tier` → `customertier`, `Größe` → `größe`: the key as one lower-case word of letters and
 * digits (facts version 4; before it, of a-z and 0-9 alone, see {@link FACTS_KEY}).
 */
function factKey(key: string, version: number = FACTS_VERSION): string {
  const lower = key.toLowerCase()
  const k = version >= 4 ? lower.replace(/[^\p{L}\p{N}]/gu, '') : lower.replace(/[^a-z0-9]/g, '')
  return k === '' ? 'value' : k
}

/**
 * The threshold facts of one number: `<key>ge<g>` for every grid point `g ≤ value` (a thermometer:
 * "value ≥ 500" is the single feature `amountge500`, present for every larger value too), and
 * `<key>lt<g>` for the grid points above it up to ten times the value, so that the other side of a
 * nearby threshold is a feature too ("under 500" is `amountlt500`: with n-grams dropped at random in
 * training, an absent feature is weak evidence); `<key>lt1` under 1; for negative values `<key>neg`,
 * `<key>lem<g>` for every `g ≤ -value` ("≤ -5" is `changelem5`) and `<key>gtm<g>` for the grid points
 * past it up to ten times (`-3` gives `changegtm5`, "above -5"). Thresholds between grid points are
 * learned to the grid's resolution.
 * @example
 * ```ts
 * numberFacts('amount', 730) // ['amountge1', 'amountge2', …, 'amountge500', 'amountlt1000', 'amountlt2000', 'amountlt3000', 'amountlt5000']
 * ```
 */
export function numberFacts(key: string, value: number): string[] {
  return factsAt(key, value, FACTS_VERSION)
}

/** {@link numberFacts} as written by `version` (1: the `ge` and `lem` sides only). */
function factsAt(key: string, value: number, version: number): string[] {
  if (typeof key !== 'string') throw invalid('key', 'expected a string')
  if (typeof value !== 'number' || !Number.isFinite(value)) return []
  const k = factKey(key, version)
  const above = (v: number, name: string): string[] =>
    version >= 2 ? GRID.filter((g) => g > v && g <= 10 * v).map((g) => `${k}${name}${g}`) : []
  if (value >= 1) return [...GRID.filter((g) => g <= value).map((g) => `${k}ge${g}`), ...above(value, 'lt')]
  if (value >= 0) return [`${k}lt1`]
  return [`${k}neg`, ...GRID.filter((g) => g <= -value).map((g) => `${k}lem${g}`), ...above(-value, 'gtm')]
}

/**
 * The fact of one yes/no or one-word field of a result: `<key><value>` (`approved=false` is
 * `approvedfalse`, `status=lost` is `statuslost`), one word that the n-gram bag keeps whole, so a
 * branch on a status or a flag has a feature of its own, as a threshold has (facts version 3).
 */
function valueFacts(key: string, v: unknown, version: number): string[] {
  if (typeof v === 'boolean') return [`${factKey(key, version)}${String(v)}`]
  if (typeof v === 'string' && /^\p{L}{1,20}$/u.test(v.trim())) return [`${factKey(key, version)}${v.trim().toLowerCase()}`]
  return []
}

/** A string that is a plain decimal number, as results often carry amounts. */
const NUMERIC = /^-?\d+(\.\d+)?$/

/** Deepest nesting of a result flattened into fields; deeper values render whole. */
const MAX_DEPTH = 16

/**
 * Flattens a result to `[key, value]` fields: nested keys joined with `.`, arrays as their first
 * items and `key.n`. A value that contains itself is not followed into again (`ancestors`: the
 * objects and arrays the path to `v` went through).
 */
function fields(v: unknown, prefix: string, out: [string, unknown][], ancestors: object[] = []): void {
  if (out.length >= MAX_FIELDS) return
  if (typeof v === 'object' && v !== null) {
    if (ancestors.includes(v)) return
    if (ancestors.length >= MAX_DEPTH) {
      out.push([prefix === '' ? 'result' : prefix, v])
      return
    }
  }
  const inner = typeof v === 'object' && v !== null ? [...ancestors, v] : ancestors
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) fields(x, prefix === '' ? k : `${prefix}.${k}`, out, inner)
    return
  }
  if (Array.isArray(v) && !v.every((x) => x === null || typeof x !== 'object')) {
    out.push([`${prefix === '' ? 'items' : prefix}.n`, v.length])
    v.slice(0, MAX_ITEMS).forEach((x, i) => fields(x, `${prefix === '' ? 'items' : prefix}.${i}`, out, inner))
    return
  }
  if (Array.isArray(v) && v.length > MAX_ITEMS) {
    out.push([`${prefix === '' ? 'items' : prefix}.n`, v.length])
    out.push([prefix === '' ? 'items' : prefix, v.slice(0, MAX_ITEMS)])
    return
  }
  out.push([prefix === '' ? 'result' : prefix, v])
}

/** A result parsed: strings holding JSON objects or arrays (as traces record them) are read as JSON. */
function parsed(result: unknown): unknown {
  if (typeof result === 'string') {
    const s = result.trim()
    if (s.startsWith('{') || s.startsWith('[')) {
      try {
        return JSON.parse(s) as unknown
      } catch {
        return result
      }
    }
  }
  return result
}

/**
 * The message of a result that reports an error, else undefined: an `Error`, or a result (or JSON
 * text of one) whose top-level `error` is set (not null, false, 0 or empty); an object's `message`, else
 * its JSON.
 */
function errorOf(result: unknown): string | undefined {
  const r = parsed(result)
  if (r instanceof Error) return valueText(r.message, MAX_VALUE) || r.name || 'Error'
  if (!isObj(r) || !Object.hasOwn(r, 'error')) return undefined
  const e = r.error
  // Set: not null, false, 0 (a status code of success) or empty.
  if (e === undefined || e === null || e === false || e === 0) return undefined
  const message = isObj(e) && typeof e.message === 'string' && e.message.trim() !== '' ? e.message : e
  const text = valueText(message, MAX_VALUE)
  return text === '' ? undefined : text
}

/** The fields of a result, for rendering and facts. */
function resultFields(result: unknown): [string, unknown][] {
  const r = parsed(result)
  if (r instanceof Error) return [['error', r.message]]
  const out: [string, unknown][] = []
  fields(r, '', out)
  return out.slice(0, MAX_FIELDS)
}

/**
 * A tool result as the router reads it: `key=value` fields (nested keys joined with `.`, arrays as
 * their first items, long strings cut), or the text itself. Deterministic: the same result always
 * renders the same way.
 * @example
 * ```ts
 * renderResult({ status: 'delivered', amount: 730 }) // 'status=delivered amount=730'
 * ```
 */
export function renderResult(result: unknown): string {
  const fs = resultFields(result)
  if (fs.length === 1 && fs[0][0] === 'result') return valueText(fs[0][1], MAX_VALUE)
  return fs.map(([k, v]) => `${k}=${valueText(v, MAX_VALUE)}`).join(' ')
}

/** Arguments as `key=value`, keys sorted (the order an LLM wrote them in does not matter). */
function renderArgs(args: Record<string, unknown>): string {
  return Object.keys(args)
    .sort()
    .map((k) => `${k}=${valueText(args[k], MAX_VALUE)}`)
    .join(' ')
}

function checkSteps(steps: unknown, name: string): asserts steps is WorkflowStep[] {
  if (!Array.isArray(steps)) throw invalid(name, 'expected an array of { tool, args, result }')
  steps.forEach((s: unknown, i) => {
    if (!isObj(s)) throw invalid(`${name}[${i}]`, 'expected { tool, args, result }')
    if (typeof s.tool !== 'string' || s.tool === '') throw invalid(`${name}[${i}].tool`, 'expected a non-empty string')
    if (s.args !== undefined && !isObj(s.args)) throw invalid(`${name}[${i}].args`, 'expected an object')
  })
}

/**
 * A tool's name as one word (`lookup_order` → `lookuporder`), so the words of the steps taken do not
 * mix with the words of the request ("refund order A1" against the step `refund_order`).
 */
function toolWord(tool: string): string {
  const w = tool.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')
  return w === '' ? tool : w
}

/**
 * The text the router reads for a workflow state: the request, each step as
 * `| <tool as one word> <args> → <result>`, then `| facts …` with the threshold facts of the numbers in the
 * results ({@link numberFacts}) and one word per yes/no or one-word field ({@link valueFacts}).
 * Deterministic; the spans of {@link Router.next}'s route refer to it.
 * @example
 * ```ts
 * renderState('refund order A123', [{ tool: 'lookup_order', args: { order_id: 'A123' }, result: { status: 'delivered', amount: 730 } }])
 * // 'refund order A123 | lookuporder order_id=A123 → status=delivered amount=730 | facts statusdelivered amountge1 … amountge500 amountlt1000 … amountlt5000'
 * ```
 */
export function renderState(request: string, steps: readonly WorkflowStep[]): string {
  return renderAt(request, steps, FACTS_VERSION)
}

/** The state as a router trained on threshold facts of `version` reads it (see {@link FACTS_KEY}). */
function renderAt(request: string, steps: readonly WorkflowStep[], version: number): string {
  if (typeof request !== 'string') throw invalid('request', 'expected a string')
  checkSteps(steps, 'steps')
  const parts = [clean(request, 10_000)]
  const facts: string[] = []
  steps.forEach((s) => {
    const args = renderArgs(s.args ?? {})
    parts.push(`${toolWord(s.tool)}${args === '' ? '' : ` ${args}`} → ${renderResult(s.result)}`)
    for (const [k, v] of resultFields(s.result)) {
      if (typeof v === 'number') facts.push(...factsAt(k, v, version))
      else if (typeof v === 'string' && NUMERIC.test(v.trim())) facts.push(...factsAt(k, Number(v), version))
      else if (version >= 3) facts.push(...valueFacts(k, v, version))
    }
  })
  if (facts.length > 0) parts.push(`facts ${facts.join(' ')}`)
  return parts.join(' | ')
}

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

const ALNUM = /[\p{L}\p{N}]/u

/** Where `needle` occurs in `text` as whole words (not inside a longer word or number), avoiding `taken`. */
function findWord(text: string, needle: string, taken: [number, number][]): number {
  // An empty needle is found nowhere (and would not move `indexOf` on).
  if (needle === '') return -1
  const hay = text.toLowerCase()
  const n = needle.toLowerCase()
  const sameLength = hay.length === text.length && n.length === needle.length
  const h = sameLength ? hay : text
  const x = sameLength ? n : needle
  for (let at = h.indexOf(x); at >= 0; at = h.indexOf(x, at + 1)) {
    const before = at === 0 ? '' : text[at - 1]
    const after = text[at + x.length] ?? ''
    if ((before !== '' && ALNUM.test(before) && ALNUM.test(x[0])) || (after !== '' && ALNUM.test(after) && ALNUM.test(x[x.length - 1]))) {
      continue
    }
    if (taken.some(([a, b]) => at < b && at + x.length > a)) continue
    return at
  }
  return -1
}

/**
 * The spans of `args` in a rendered state: each string or number value where it first occurs as
 * whole words (the request, then the steps in order). Undefined when a value is not found.
 */
function spansIn(text: string, args: Record<string, unknown>): Span[] | undefined {
  const taken: [number, number][] = []
  const spans: Span[] = []
  for (const [name, value] of Object.entries(args)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string' && typeof v !== 'number') continue
      const needle = typeof v === 'number' ? num(v) : clean(v, MAX_VALUE)
      // An empty value has no words to point at.
      if (needle === '') continue
      const at = findWord(text, needle, taken)
      if (at < 0) return undefined
      taken.push([at, at + needle.length])
      spans.push({ name, start: codePoints(text, at), end: codePoints(text, at + needle.length) })
    }
  }
  return spans.sort((a, b) => a.start - b.start)
}

function checkWorkflow(w: unknown, name: string): asserts w is Workflow {
  if (!isObj(w)) throw invalid(name, 'expected { request, steps, finished? }')
  if (typeof w.request !== 'string') throw invalid(`${name}.request`, 'expected a string')
  checkSteps(w.steps, `${name}.steps`)
  if (w.finished !== undefined && typeof w.finished !== 'boolean') throw invalid(`${name}.finished`, 'expected a boolean')
}

/**
 * Training examples from whole workflows: one per step (the state before it, labelled with its tool
 * and arguments, spans located in the rendered state) and, for a finished workflow, one labelled
 * {@link FINISH} after the last step. Train with `new Trainer({ tools: workflowTools(tools),
 * ...WORKFLOW_TRAINER_OPTIONS })`.
 * @example
 * ```ts
 * const examples = examplesFromWorkflows([{ request: 'refund order A123', steps: [{ tool: 'lookup_order', args: { order_id: 'A123' }, result: { amount: 40 } }] }])
 * // [{ text: 'refund order A123', tool: 'lookup_order', args: { order_id: 'A123' }, spans: [...] },
 * //  { text: 'refund order A123 | lookuporder order_id=A123 → amount=40 | facts …', tool: '__finish__', args: {}, spans: [] }]
 * ```
 */
export function examplesFromWorkflows(workflows: readonly Workflow[]): Example[] {
  if (!Array.isArray(workflows)) throw invalid('workflows', 'expected an array of workflows')
  const out: Example[] = []
  workflows.forEach((w, i) => {
    checkWorkflow(w, `workflows[${i}]`)
    const n = w.steps.length
    for (let k = 0; k <= n; k++) {
      if (k === n && w.finished === false) break
      const text = renderState(w.request, w.steps.slice(0, k))
      if (k === n) {
        out.push({ text, tool: FINISH_LABEL, args: {}, spans: [] })
        continue
      }
      const args = { ...(w.steps[k].args ?? {}) }
      // The tagger learns the values the request gives; values found only in earlier steps are
      // copied from there by their learned source ({@link workflowTools}) and tagged O.
      const requestEnd = clean(w.request, 10_000).length
      const inRequest = Object.fromEntries(
        Object.entries(args).filter(([, v]) => {
          const at = findWord(text, valueText(v, MAX_VALUE), [])
          return at >= 0 && at < requestEnd
        }),
      )
      const spans = spansIn(text, inRequest) ?? []
      out.push({ text, tool: w.steps[k].tool, args: spans.length > 0 ? args : {}, spans })
    }
  })
  return out
}

/** Where the arguments of each tool came from in the training workflows (kept in {@link FINISH_TOOL}'s schema). */
interface Provenance {
  version: 1
  /**
   * tool → argument → sources (`request`, or `<tool>.result.<key>` / `<tool>.args.<key>` of an earlier
   * step) as `[source, times it held the value, times the history had it]`, best first. Sources that
   * never held it are kept too (last): a tagged value found there is suspect ({@link distrustHistory}).
   */
  sources: Record<string, Record<string, [string, number, number][]>>
  /**
   * How many of the training workflows finished without a call. When none did, {@link Router.next}
   * does not answer {@link FINISH} before the first step. Absent in routers trained before it was
   * recorded (they may answer it).
   */
  emptyFinishes?: number
  /**
   * How many steps of the training workflows returned an error (an `error` field, or an `Error`).
   * When none did, the router has not learned what follows one, and {@link runChain} hands a chain
   * whose tool returned an error to the LLM. Absent in routers trained before it was recorded.
   */
  errorResults?: number
  /**
   * tool → argument → the word shapes ({@link wordShape}) of its string values in the training
   * workflows, for arguments given at least {@link SHAPE_MIN_VALUES} times in at most
   * {@link SHAPE_MAX} shapes (ids, symbols, names; not free text). {@link Router.next} does not take
   * a tool whose argument has a word of another shape. Absent in routers trained before it was recorded.
   */
  shapes?: Record<string, Record<string, string[]>>
  /**
   * Words the training requests use at least {@link CONTEXT_MIN} times and no argument's value ever
   * contains ("a", "for", "refund"): the words around values. {@link distrustContext} does not take
   * a tagged value made of them. Absent in routers trained before it was recorded.
   */
  context?: string[]
}

/** Times a word must occur in the training requests, never in a value, to count as context. */
const CONTEXT_MIN = 20
/** Most context words kept (the most frequent). */
const CONTEXT_MAX = 500

/** A word without the punctuation around it ("Kofi," → "Kofi"; "j.doe@corp.net" keeps its dots). */
function bareWord(w: string): string {
  return w.replace(/^[("'[]+/u, '').replace(/[?!.,;:)"'\]]+$/u, '')
}

/** A request's words, lower case, without the punctuation around them. */
function requestWords(text: string): string[] {
  return clean(text, 10_000).toLowerCase().split(' ').map(bareWord).filter(Boolean)
}

/** {@link Provenance.context} of `workflows`. */
function learnContext(workflows: readonly Workflow[]): string[] {
  const inRequests = new Map<string, number>()
  const inValues = new Set<string>()
  for (const w of workflows) {
    for (const word of requestWords(w.request)) inRequests.set(word, (inRequests.get(word) ?? 0) + 1)
    for (const s of w.steps) {
      for (const v of Object.values(s.args ?? {})) {
        if (typeof v === 'string' || typeof v === 'number') for (const word of requestWords(String(v))) inValues.add(word)
      }
    }
  }
  return [...inRequests.entries()]
    .filter(([word, n]) => n >= CONTEXT_MIN && !inValues.has(word))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, CONTEXT_MAX)
    .map(([word]) => word)
}

/** Values an argument needs in the training workflows before its word shapes are held to. */
const SHAPE_MIN_VALUES = 20
/** More distinct word shapes than this: the argument is free text and its shapes are not held to. */
const SHAPE_MAX = 6

/** A word's shape: upper-case letters `X`, lower-case `x`, digits `d`, other characters as they are, runs collapsed. */
function wordShape(word: string): string {
  return word
    .replace(/\p{Lu}/gu, 'X')
    .replace(/\p{Ll}/gu, 'x')
    .replace(/\p{Nd}/gu, 'd')
    .replace(/(.)\1+/gu, '$1')
}

/** The shapes of a string value's words (none for numbers and other values, which have types). */
function valueShapes(v: unknown): string[] {
  return typeof v === 'string' && !NUMERIC.test(v.trim()) ? v.trim().split(/\s+/u).filter(Boolean).map(wordShape) : []
}

/** {@link Provenance.shapes} of `workflows`. */
function learnShapes(workflows: readonly Workflow[]): Record<string, Record<string, string[]>> {
  const seen: Record<string, Record<string, { n: number; shapes: Set<string> }>> = {}
  for (const w of workflows) {
    for (const s of w.steps) {
      for (const [a, v] of Object.entries(s.args ?? {})) {
        const shapes = valueShapes(v)
        if (shapes.length === 0) continue
        const e = ((seen[s.tool] ??= {})[a] ??= { n: 0, shapes: new Set() })
        e.n++
        for (const sh of shapes) e.shapes.add(sh)
      }
    }
  }
  const out: Record<string, Record<string, string[]>> = {}
  for (const [tool, byArg] of Object.entries(seen)) {
    for (const [a, e] of Object.entries(byArg)) {
      if (e.n >= SHAPE_MIN_VALUES && e.shapes.size <= SHAPE_MAX) (out[tool] ??= {})[a] = [...e.shapes].sort()
    }
  }
  return out
}

/**
 * Whether a word of shape `sh` is like the known shapes: one of them, or, all in lower case, one of
 * them in lower case (people type "paris" where the training data wrote "Paris").
 */
function knownShape(sh: string, known: readonly string[]): boolean {
  const lower = (k: string): string => k.replace(/X/g, 'x').replace(/(.)\1+/gu, '$1')
  return known.includes(sh) || (!sh.includes('X') && known.some((k) => lower(k) === sh))
}

/** Whether a routed tool has an argument with a word unlike every value its training workflows gave it. */
function offShape(prov: Provenance | undefined, r: Route): boolean {
  const byArg = r.tool === null ? undefined : prov?.shapes?.[r.tool]
  if (byArg === undefined) return false
  return Object.entries(r.args).some(([a, v]) => {
    const known = byArg[a]
    return known !== undefined && valueShapes(v).some((sh) => !knownShape(sh, known))
  })
}

/** The schema key under which {@link workflowTools} stores the argument sources. */
const PROVENANCE_KEY = 'x-toolrouter-workflow'

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return String(a).trim() === String(b).trim() && String(a).trim() !== ''
  return typeof a === 'string' && typeof b === 'string' && a.trim() !== '' && a.trim().toLowerCase() === b.trim().toLowerCase()
}

/** The sources in `steps` (and the request) that hold `value`. */
function sourcesOf(request: string, steps: readonly WorkflowStep[], value: unknown): string[] {
  const out = new Set<string>()
  if ((typeof value === 'string' || typeof value === 'number') && findWord(clean(request, 10_000), valueText(value, MAX_VALUE), []) >= 0) {
    out.add('request')
  }
  for (const s of steps) {
    for (const [k, v] of resultFields(s.result)) if (sameValue(v, value)) out.add(`${s.tool}.result.${k}`)
    for (const [k, v] of Object.entries(s.args ?? {})) if (sameValue(v, value)) out.add(`${s.tool}.args.${k}`)
  }
  return [...out]
}

/** Every source an earlier step offers. */
function availableSources(steps: readonly WorkflowStep[]): Set<string> {
  const out = new Set<string>(['request'])
  for (const s of steps) {
    for (const [k] of resultFields(s.result)) out.add(`${s.tool}.result.${k}`)
    for (const k of Object.keys(s.args ?? {})) out.add(`${s.tool}.args.${k}`)
  }
  return out
}

/**
 * Where each argument of each tool came from in `workflows`: per source, how often it held the value
 * when the history had it. Sources are ranked by that rate, then the history before the request (a
 * value copied from a result is exact; the tagger's is read from words), then by count.
 */
function learnProvenance(workflows: readonly Workflow[]): Provenance {
  const counts: Record<string, Record<string, Map<string, [number, number]>>> = {}
  workflows.forEach((w, i) => {
    checkWorkflow(w, `workflows[${i}]`)
    w.steps.forEach((s, k) => {
      const prior = w.steps.slice(0, k)
      const available = availableSources(prior)
      for (const [a, v] of Object.entries(s.args ?? {})) {
        const m = ((counts[s.tool] ??= {})[a] ??= new Map())
        const held = new Set(sourcesOf(w.request, prior, v))
        for (const src of available) {
          const c = m.get(src) ?? [0, 0]
          m.set(src, [c[0] + (held.has(src) ? 1 : 0), c[1] + 1])
        }
      }
    })
  })
  const sources: Provenance['sources'] = {}
  for (const [tool, byArg] of Object.entries(counts)) {
    sources[tool] = {}
    for (const [a, m] of Object.entries(byArg)) {
      const rate = ([, [h, n]]: [string, [number, number]]): number => h / n
      sources[tool][a] = [...m.entries()]
        .sort((x, y) => rate(y) - rate(x) || Number(x[0] === 'request') - Number(y[0] === 'request') || y[1][0] - x[1][0] || (x[0] < y[0] ? -1 : 1))
        .map(([src, [h, n]]) => [src, h, n])
    }
  }
  const emptyFinishes = workflows.filter((w) => w.steps.length === 0 && w.finished !== false).length
  const errorResults = workflows.reduce((n, w) => n + w.steps.filter((s) => errorOf(s.result) !== undefined).length, 0)
  return { version: 1, sources, emptyFinishes, errorResults, shapes: learnShapes(workflows), context: learnContext(workflows) }
}

/**
 * `tools` with {@link FINISH_TOOL} added (once): the tools of a workflow router. With `workflows`,
 * the finish tool's schema also keeps where each tool's arguments came from in them (the request,
 * or a field of an earlier step's result or arguments), so {@link Router.next} can copy a value
 * from the history exactly where the training workflows took it from; the model file keeps it.
 * @example
 * ```ts
 * new Trainer({ tools: workflowTools(await loadTools('tools.json'), workflows), ...WORKFLOW_TRAINER_OPTIONS })
 * ```
 */
export function workflowTools(tools: readonly ToolSpec[], workflows?: readonly Workflow[]): ToolSpec[] {
  if (!Array.isArray(tools)) throw invalid('tools', 'expected an array of tool specs')
  if (workflows !== undefined && !Array.isArray(workflows)) throw invalid('workflows', 'expected an array of workflows')
  const rest = tools.filter((t) => t.name !== FINISH_LABEL)
  const finish: ToolSpec =
    workflows === undefined
      ? (tools.find((t) => t.name === FINISH_LABEL) ?? FINISH_TOOL)
      : { ...FINISH_TOOL, parameters: { ...FINISH_TOOL.parameters, [PROVENANCE_KEY]: learnProvenance(workflows) } }
  // The router these tools train reads states as renderState writes them now, whatever finish
  // tool came in (an older router's, to continue it, says nothing or an older version).
  return [...rest, { ...finish, parameters: { ...finish.parameters, [FACTS_KEY]: FACTS_VERSION } }]
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

function dataError(source: string, line: number | undefined, message: string): ToolrouterError {
  return new ToolrouterError('DATASET_INVALID', `${source}${line === undefined ? '' : `:${line}`}: ${message}`)
}

/** Validates one parsed JSONL record, naming the field that is wrong. */
function workflowOf(rec: unknown, source: string, line: number, tools: Set<string> | undefined): Workflow {
  const err = (m: string): ToolrouterError => dataError(source, line, m)
  if (!isObj(rec)) throw err('expected a JSON object { request, steps, finished? }')
  if (typeof rec.request !== 'string' || rec.request.trim() === '') {
    throw err(`field \`request\`: expected a non-empty string`)
  }
  if (!Array.isArray(rec.steps)) throw err('field `steps`: expected an array of { tool, args, result }')
  if (rec.finished !== undefined && typeof rec.finished !== 'boolean') throw err('field `finished`: expected a boolean')
  const steps: WorkflowStep[] = rec.steps.map((s: unknown, i): WorkflowStep => {
    const f = `steps[${i}]`
    if (!isObj(s)) throw err(`field \`${f}\`: expected an object { tool, args, result }`)
    if (typeof s.tool !== 'string' || s.tool === '') throw err(`field \`${f}.tool\`: expected a non-empty string`)
    if (s.tool === FINISH || s.tool === FINISH_LABEL) throw err(`field \`${f}.tool\`: \`${s.tool}\` is not a step (use \`finished\`)`)
    if (tools !== undefined && !tools.has(s.tool)) throw err(`field \`${f}.tool\`: unknown tool \`${s.tool}\``)
    if (s.args !== undefined && !isObj(s.args)) throw err(`field \`${f}.args\`: expected an object`)
    const last = i === (rec.steps as unknown[]).length - 1
    if (!('result' in s) && !(last && rec.finished === false)) {
      throw err(`field \`${f}.result\`: missing (only the last step of an unfinished workflow may lack it)`)
    }
    return { tool: s.tool, args: (s.args ?? {}) as Record<string, unknown>, ...('result' in s ? { result: s.result } : {}) }
  })
  return { request: rec.request, steps, ...(rec.finished === undefined ? {} : { finished: rec.finished }) }
}

/**
 * Workflows from JSONL text, one `{ "request", "steps": [{ "tool", "args", "result" }], "finished"? }`
 * a line. Errors (`DATASET_INVALID`) name the source, the line and the field.
 * @example
 * ```ts
 * parseWorkflows('{"request":"refund A1","steps":[{"tool":"lookup_order","args":{"order_id":"A1"},"result":{"amount":40}}]}')
 * ```
 */
export function parseWorkflows(text: string, opts: { source?: string; tools?: readonly ToolSpec[] } = {}): Workflow[] {
  if (typeof text !== 'string') throw invalid('text', 'expected a string')
  const source = opts.source ?? 'workflows'
  const tools = opts.tools === undefined ? undefined : new Set(opts.tools.map((t) => t.name))
  const out: Workflow[] = []
  text.split('\n').forEach((l, i) => {
    if (l.trim() === '') return
    let rec: unknown
    try {
      rec = JSON.parse(l) as unknown
    } catch (e) {
      throw dataError(source, i + 1, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
    out.push(workflowOf(rec, source, i + 1, tools))
  })
  if (out.length === 0) throw dataError(source, undefined, 'no workflows')
  return out
}

/**
 * Reads a JSONL file of workflows ({@link parseWorkflows}); with `tools`, every step's tool must be
 * one of them. Errors name the file, the line and the field (`DATASET_INVALID`), or `IO`.
 * @example
 * ```ts
 * const workflows = await loadWorkflows('data/workflows/example.jsonl')
 * const examples = examplesFromWorkflows(workflows)
 * ```
 */
export async function loadWorkflows(path: string, opts: { tools?: readonly ToolSpec[] } = {}): Promise<Workflow[]> {
  if (typeof path !== 'string') throw invalid('path', 'expected a string')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new ToolrouterError('IO', `${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
  return parseWorkflows(text, { source: path, tools: opts.tools })
}

// ---------------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------------

/** The formats {@link workflowsFromTraces} reads (those of `examplesFromTraces` but OpenAI Responses). */
export type WorkflowTraceFormat = Exclude<TraceFormat, 'openai-responses'>

const WORKFLOW_TRACE_FORMATS: readonly WorkflowTraceFormat[] = ['openai', 'anthropic', 'ai-sdk']

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content
  const texts = arr(content)
    .filter((p): p is { text: string } => isObj(p) && (p.type === 'text' || p.type === 'input_text') && typeof p.text === 'string')
    .map((p) => p.text)
  return texts.length > 0 ? texts.join('\n') : undefined
}

interface Call {
  id: string | undefined
  tool: string
  args: Record<string, unknown>
}

/**
 * Calls in an assistant message, and how many it made that cannot be read (arguments that do not
 * parse, as in a reply cut off at the token limit; no tool name); undefined: not an assistant message.
 */
function callsOf(m: Obj, format: WorkflowTraceFormat): { calls: Call[]; dropped: number } | undefined {
  if (m.role !== 'assistant') return undefined
  const call = (id: unknown, tool: unknown, rawArgs: unknown): Call | undefined => {
    const args = argsObject(rawArgs)
    if (args === undefined || typeof tool !== 'string' || tool === '') return undefined
    return { id: typeof id === 'string' ? id : undefined, tool, args }
  }
  const calls: (Call | undefined)[] =
    format === 'openai'
      ? arr(m.tool_calls).map((c) => {
          const f = isObj(c) && isObj(c.function) ? c.function : undefined
          return f === undefined ? undefined : call((c as Obj).id, f.name, f.arguments)
        })
      : arr(m.content)
          .filter(isObj)
          .filter((p) => p.type === (format === 'anthropic' ? 'tool_use' : 'tool-call'))
          .map((p) =>
            format === 'anthropic' ? call(p.id, p.name, p.input) : call(p.toolCallId, p.toolName, p.input ?? p.args),
          )
  const read = calls.filter((c): c is Call => c !== undefined)
  return { calls: read, dropped: calls.length - read.length }
}

/** Tool results carried by a message: call id → result. */
function resultsOf(m: Obj, format: WorkflowTraceFormat): [string | undefined, unknown][] {
  if (format === 'openai') {
    if (m.role !== 'tool') return []
    const id = typeof m.tool_call_id === 'string' ? m.tool_call_id : undefined
    return [[id, parsed(textOf(m.content) ?? m.content)]]
  }
  if (format === 'anthropic') {
    if (m.role !== 'user') return []
    return arr(m.content)
      .filter(isObj)
      .filter((p) => p.type === 'tool_result')
      .map((p) => [typeof p.tool_use_id === 'string' ? p.tool_use_id : undefined, parsed(textOf(p.content) ?? p.content)])
  }
  if (m.role !== 'tool') return []
  return arr(m.content)
    .filter(isObj)
    .filter((p) => p.type === 'tool-result')
    .map((p) => {
      const o = p.output
      const value = isObj(o) && 'value' in o ? o.value : 'result' in p ? p.result : o
      return [typeof p.toolCallId === 'string' ? p.toolCallId : undefined, parsed(value)]
    })
}

/** The workflow of one record: the last user text, the calls after it with their results, finished when the LLM answered without a call. */
function workflowOfRecord(rec: Obj, format: WorkflowTraceFormat): Workflow | undefined {
  const msgs = conversation(rec, format).filter(isObj)
  let at = -1
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].role === 'user' && textOf(msgs[i].content) !== undefined && resultsOf(msgs[i], format).length === 0) {
      at = i
      break
    }
  }
  if (at < 0) return undefined
  const request = textOf(msgs[at].content) as string
  const steps: (WorkflowStep & { id?: string })[] = []
  let finished = false
  // A call that cannot be read (a reply cut off in its arguments) ends the workflow there,
  // unfinished: what the LLM did next is not known (it did not answer without a call).
  let broken = false
  for (const m of msgs.slice(at + 1)) {
    const got = callsOf(m, format)
    if (got !== undefined) {
      if (broken) break
      if (got.calls.length === 0 && got.dropped === 0) {
        finished = true
        break
      }
      for (const c of got.calls) steps.push({ tool: c.tool, args: c.args, ...(c.id ? { id: c.id } : {}) })
      if (got.dropped > 0) broken = true
      continue
    }
    for (const [id, result] of resultsOf(m, format)) {
      const step = steps.find((s) => !('result' in s) && (id === undefined || s.id === undefined || s.id === id))
      if (step) step.result = result
    }
  }
  if (steps.length === 0 && !finished) return undefined
  // A call without a result can only be the last step (the response of this record).
  const cut = steps.findIndex((s) => !('result' in s))
  const kept = cut < 0 ? steps : steps.slice(0, cut + 1)
  return {
    request,
    steps: kept.map(({ id: _id, ...s }) => s),
    finished: finished && cut < 0,
  }
}

function sameStep(a: WorkflowStep, b: WorkflowStep): boolean {
  // Deep: a key-list replacer would also filter the keys of nested objects.
  return a.tool === b.tool && isDeepStrictEqual(a.args, b.args)
}

/** `a` says nothing `b` does not: same request, its steps a prefix of b's, and not finished where b is not. */
function covered(a: Workflow, b: Workflow): boolean {
  if (a.request !== b.request || a.steps.length > b.steps.length) return false
  if (a.finished !== false && (b.finished === false || a.steps.length < b.steps.length)) return false
  return a.steps.every((s, i) => sameStep(s, b.steps[i]))
}

/**
 * Workflows from recorded multi-call LLM traces (the records `examplesFromTraces` reads, in the same
 * formats): for each record, the last user message is the request, the LLM's tool calls after it
 * with their results are the steps, and the workflow is finished when the LLM then answered without
 * a call. A loop logs one record per LLM call, each a prefix of the next: workflows that another one
 * contains are dropped. Feed the result to {@link examplesFromWorkflows}.
 * @example
 * ```ts
 * const workflows = workflowsFromTraces(readFileSync('traces.jsonl', 'utf8'), { format: 'openai' })
 * const examples = examplesFromWorkflows(workflows)
 * ```
 */
export function workflowsFromTraces(
  records: unknown[] | string,
  options: { format: WorkflowTraceFormat; source?: string },
): Workflow[] {
  if (!isObj(options) || !WORKFLOW_TRACE_FORMATS.includes(options.format)) {
    throw invalid('format', `expected one of ${WORKFLOW_TRACE_FORMATS.map((f) => `'${f}'`).join(', ')}, got ${String(options?.format)}`)
  }
  const source = options.source ?? 'traces'
  let items: { record: unknown; line: number }[]
  if (typeof records === 'string') {
    const trimmed = records.trim()
    if (trimmed === '') throw dataError(source, undefined, 'no records')
    let whole: unknown
    try {
      whole = JSON.parse(trimmed) as unknown
    } catch {
      whole = undefined
    }
    if (whole !== undefined) {
      items = (Array.isArray(whole) ? whole : [whole]).map((record, i) => ({ record, line: i + 1 }))
    } else {
      items = []
      records.split('\n').forEach((l, i) => {
        if (l.trim() === '') return
        try {
          items.push({ record: JSON.parse(l) as unknown, line: i + 1 })
        } catch (e) {
          throw dataError(source, i + 1, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`)
        }
      })
    }
  } else if (Array.isArray(records)) {
    items = records.map((record, i) => ({ record, line: i + 1 }))
  } else {
    throw invalid('records', 'expected an array or JSON/JSONL text')
  }
  const all: Workflow[] = []
  for (const { record, line } of items) {
    if (!isObj(record)) throw dataError(source, line, 'expected a JSON object')
    const w = workflowOfRecord(record, options.format)
    if (w !== undefined) all.push(w)
  }
  return all.filter((w, i) => !all.some((o, j) => j !== i && covered(w, o) && !(covered(o, w) && j > i)))
}

// ---------------------------------------------------------------------------------------------
// The next step
// ---------------------------------------------------------------------------------------------

const validators = new WeakMap<Router, Map<string, ValidateFunction | null>>()
const ajv = new Ajv({ allErrors: true, strict: false })

function validatorOf(router: Router, tool: string): ValidateFunction | null {
  let byTool = validators.get(router)
  if (byTool === undefined) validators.set(router, (byTool = new Map()))
  let v = byTool.get(tool)
  if (v === undefined) {
    const schema = router.tools.find((t) => t.name === tool)?.parameters
    try {
      v = schema && Object.keys(schema).length > 0 ? ajv.compile(schema) : null
    } catch {
      v = null
    }
    byTool.set(tool, v)
  }
  return v
}

function isArraySchema(router: Router, tool: string, name: string): boolean {
  const props = router.tools.find((t) => t.name === tool)?.parameters?.properties
  const p = isObj(props) ? props[name] : undefined
  return isObj(p) && p.type === 'array'
}

/**
 * A value pointed at twice (in the request and again in a result) comes back as an array: one value
 * when the copies agree and the schema does not want an array; the call is then checked again.
 */
function collapseRepeats(router: Router, r: Route): Route {
  if (r.tool === null) return r
  const tool = r.tool
  const collapsed: string[] = []
  const args: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r.args)) {
    if (Array.isArray(v) && v.length > 1 && !isArraySchema(router, tool, k)) {
      const first = JSON.stringify(v[0])
      if (v.every((x) => JSON.stringify(x) === first)) {
        args[k] = v[0]
        collapsed.push(k)
        continue
      }
    }
    args[k] = v
  }
  if (collapsed.length === 0) return r
  const validate = validatorOf(router, tool)
  const bad = new Set(r.invalid.filter((n) => !collapsed.includes(n)))
  if (validate !== null && !validate(args)) {
    for (const e of validate.errors ?? []) if (e.keyword !== 'required') bad.add(e.instancePath.split('/')[1] ?? e.instancePath)
  }
  const invalidArgs = [...bad]
  return { ...r, args, invalid: invalidArgs, complete: r.missing.length === 0 && invalidArgs.length === 0 }
}

/**
 * A tagged span that covers part of a word of the request ("1932" of "88-1932") grows to the whole
 * word (without trailing punctuation): values are whole words. Its value is read again from the text.
 */
function snapToWords(router: Router, text: string, requestEnd: number, r: Route): Route {
  if (r.tool === null || r.spans.length === 0) return r
  const chars = Array.from(text)
  const isSpace = (c: string | undefined): boolean => c === undefined || /\s/.test(c)
  const props = router.tools.find((t) => t.name === r.tool)?.parameters?.properties
  const args = { ...r.args }
  let changed = false
  const spans = r.spans.map((sp) => {
    if (sp.end > Array.from(text.slice(0, requestEnd)).length || Array.isArray(args[sp.name])) return sp
    let start = sp.start
    let end = sp.end
    while (start > 0 && !isSpace(chars[start - 1])) start--
    while (end < chars.length && !isSpace(chars[end])) end++
    while (end > start + 1 && /[?!.,;:)"']/.test(chars[end - 1])) end--
    while (start < end - 1 && /[("']/.test(chars[start])) start++
    if (start === sp.start && end === sp.end) return sp
    changed = true
    const schema: unknown = isObj(props) ? props[sp.name] : undefined
    args[sp.name] = typed(chars.slice(start, end).join(''), isObj(schema) ? schema : {})
    return { ...sp, start, end }
  })
  if (!changed) return r
  const validate = validatorOf(router, r.tool)
  const bad = new Set<string>()
  if (validate !== null && !validate(args)) {
    for (const e of validate.errors ?? []) if (e.keyword !== 'required') bad.add(e.instancePath.split('/')[1] ?? e.instancePath)
  }
  const invalidArgs = [...bad]
  return { ...r, args, spans, invalid: invalidArgs, complete: r.missing.length === 0 && invalidArgs.length === 0 }
}

/**
 * The state as `router` reads it: with the threshold facts it was trained on ({@link FACTS_KEY}).
 * Exported for the tests, not from the package.
 */
export function stateFor(router: Pick<Router, 'tools'>, request: string, steps: readonly WorkflowStep[]): string {
  const v = finishSchema(router)?.[FACTS_KEY]
  return renderAt(request, steps, typeof v === 'number' ? v : 1)
}

/** The schema of the router's {@link FINISH_TOOL}, where the workflow keys live. */
function finishSchema(router: Pick<Router, 'tools'>): Record<string, unknown> | undefined {
  return router.tools.find((t) => t.name === FINISH_LABEL)?.parameters
}

function provenanceOf(router: Router): Provenance | undefined {
  const p = finishSchema(router)?.[PROVENANCE_KEY]
  return isObj(p) && p.version === 1 && isObj(p.sources) ? (p as unknown as Provenance) : undefined
}

/** The value of `source` in the latest step that has it, with where it is in the rendered state. */
function lookup(source: string, steps: readonly WorkflowStep[], text: string): { value: unknown; start: number } | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]
    // `<tool>.result.<key>` or `<tool>.args.<key>`, the tool one of the steps' (a key may hold
    // `.result.` itself: `lookup_order.result.result.amount` is the `result.amount` of the lookup).
    const result = `${s.tool}.result.`
    const args = `${s.tool}.args.`
    let field: [string, unknown] | undefined
    if (source.startsWith(result)) field = resultFields(s.result).find(([k]) => k === source.slice(result.length))
    if (field === undefined && source.startsWith(args)) field = Object.entries(s.args ?? {}).find(([k]) => k === source.slice(args.length))
    if (field === undefined) continue
    // The step's segment in the rendered state: the (i + 1)-th ` | ` separator.
    let at = 0
    for (let n = 0; n <= i && at >= 0; n++) at = text.indexOf(' | ', at + (n === 0 ? 0 : 1))
    return { value: field[1], start: at < 0 ? 0 : at }
  }
  return undefined
}

/**
 * Arguments copied from the history: for each argument of the chosen tool whose most frequent
 * source in the training workflows is an earlier step's field (and the history has that step), its
 * value there, typed as the schema says, with its span in the rendered state; arguments the request
 * gives stay the tagger's.
 */
function fromHistory(router: Router, prov: Provenance | undefined, steps: readonly WorkflowStep[], text: string, r: Route): Route {
  if (r.tool === null || prov === undefined || steps.length === 0) return r
  const tool = r.tool
  const byArg = prov.sources[tool]
  if (byArg === undefined) return r
  const props = router.tools.find((t) => t.name === tool)?.parameters?.properties
  const args = { ...r.args }
  const spans = [...r.spans]
  let changed = false
  for (const [name, sources] of Object.entries(byArg)) {
    for (const [source, held, seen] of sources) {
      if (source === 'request' || held < seen / 2) break
      const hit = lookup(source, steps, text)
      if (hit === undefined) continue
      const schema: unknown = isObj(props) ? props[name] : undefined
      args[name] = typed(hit.value, isObj(schema) ? schema : {})
      const needle = valueText(hit.value, MAX_VALUE)
      const at = findWord(text, needle, [[0, hit.start]])
      const others = spans.filter((sp) => sp.name !== name)
      spans.length = 0
      spans.push(...others)
      if (at >= 0) spans.push({ name, start: codePoints(text, at), end: codePoints(text, at + needle.length) })
      changed = true
      break
    }
  }
  return changed ? withArgs(router, tool, r, args, spans) : r
}

/** `r` with new arguments and spans, and its `missing`, `invalid` and `complete` checked again. */
function withArgs(router: Router, tool: string, r: Route, args: Record<string, unknown>, spans: Route['spans']): Route {
  spans.sort((a, b) => a.start - b.start)
  const required = router.tools.find((t) => t.name === tool)?.parameters?.required
  const missing = (Array.isArray(required) ? required : []).filter((n): n is string => typeof n === 'string' && !(n in args))
  const validate = validatorOf(router, tool)
  const bad = new Set<string>()
  if (validate !== null && !validate(args)) {
    for (const e of validate.errors ?? []) if (e.keyword !== 'required') bad.add(e.instancePath.split('/')[1] ?? e.instancePath)
  }
  const invalidArgs = [...bad]
  return { ...r, args, spans, missing, invalid: invalidArgs, complete: missing.length === 0 && invalidArgs.length === 0 }
}

/**
 * How many times the training workflows must have offered a history field, never as an argument's
 * value, before {@link distrustHistory} holds that against a tagged value.
 */
const NEVER_HELD_MIN = 5

/**
 * Drops a tagged argument whose text is the value of a history field that, in the training
 * workflows, never held that argument although it was there at least {@link NEVER_HELD_MIN} times,
 * unless another history field that did hold it has the value too. On new phrasings the tagger can
 * mark an id the request repeats for an earlier call (`lookup_order`'s order id) as a later call's
 * argument (`send_email`'s recipient); the argument becomes missing and the step incomplete, so the
 * LLM decides instead of the chain sending mail to an order id. Numbers are left alone: a small
 * number matches a history field by chance.
 */
function distrustHistory(router: Router, prov: Provenance | undefined, request: string, steps: readonly WorkflowStep[], r: Route): Route {
  if (r.tool === null || steps.length === 0) return r
  const byArg = prov?.sources[r.tool]
  if (byArg === undefined) return r
  const drop = Object.entries(r.args).filter(([name, v]) => {
    if (typeof v !== 'string' || NUMERIC.test(v.trim())) return false
    const known = new Map((byArg[name] ?? []).map(([src, held, seen]) => [src, [held, seen]]))
    const found = sourcesOf(request, steps, v).filter((src) => src !== 'request')
    const never = found.some((src) => {
      const [held, seen] = known.get(src) ?? [0, 0]
      return held === 0 && seen >= NEVER_HELD_MIN
    })
    return never && !found.some((src) => (known.get(src)?.[0] ?? 0) > 0)
  })
  return drop.length === 0 ? r : withoutArgs(router, r, new Set(drop.map(([n]) => n)))
}

/** `r` without the arguments `names` (and their spans), its `missing` and `complete` checked again. */
function withoutArgs(router: Router, r: Route, names: ReadonlySet<string>): Route {
  if (r.tool === null) return r
  const args = Object.fromEntries(Object.entries(r.args).filter(([n]) => !names.has(n)))
  return withArgs(router, r.tool, r, args, r.spans.filter((sp) => !names.has(sp.name)))
}

/**
 * Drops a tagged argument of the request made only of context words ({@link Provenance.context}):
 * words the training requests use around values and no value ever contains. On new values the
 * tagger can mark the article before them ("can you arrange a football match …" gave
 * `create_calendar_event({"title":"a"})`); the argument becomes missing and the step incomplete,
 * so the LLM decides.
 */
function distrustContext(router: Router, prov: Provenance | undefined, requestEnd: number, r: Route): Route {
  const tagged = r.spans.filter((sp) => sp.end <= requestEnd && typeof r.args[sp.name] === 'string')
  if (r.tool === null || tagged.length === 0 || prov?.context === undefined || prov.context.length === 0) return r
  const context = new Set(prov.context)
  const names = new Set(
    tagged
      .filter((sp) => {
        const words = requestWords(String(r.args[sp.name]))
        return words.length > 0 && words.every((w) => context.has(w))
      })
      .map((sp) => sp.name),
  )
  return names.size === 0 ? r : withoutArgs(router, r, names)
}

/**
 * Fills a required argument the tagger left out with the one word of the request that looks like that
 * argument's training values: a word of one of its distinctive shapes ({@link Provenance.shapes}, not
 * all lower case: names, ids, tickers) or, for a numeric argument, the one number, when the training
 * workflows took the argument from the request. On new phrasings the tagger misses new names ("did
 * SHOP plunge today? if yes, send Kofi a note" left `send_email` without `to`, and the chain went to
 * the LLM). Words already used (another argument, any value in the history), the request's first
 * word in sentence case and one-letter words ("I") are not candidates; two candidates fill nothing.
 * `req` is the request as the state `text` begins with it.
 */
function fillByShape(router: Router, prov: Provenance | undefined, req: string, steps: readonly WorkflowStep[], text: string, r: Route): Route {
  if (r.tool === null || r.missing.length === 0 || prov === undefined) return r
  const tool = r.tool
  const props = router.tools.find((t) => t.name === tool)?.parameters?.properties
  const used = new Set<string>(Object.values(r.args).map((v) => String(v).toLowerCase()))
  for (const s of steps) {
    for (const [, v] of resultFields(s.result)) used.add(String(v).toLowerCase())
    for (const v of Object.values(s.args ?? {})) used.add(String(v).toLowerCase())
  }
  const words = req.split(' ').map((w, i) => ({ i, w: bareWord(w) }))
  const args = { ...r.args }
  const spans = [...r.spans]
  let changed = false
  for (const name of r.missing) {
    const top = prov.sources[tool]?.[name]?.[0]
    if (top === undefined || top[0] !== 'request' || top[1] < top[2] / 2) continue
    const schema: unknown = isObj(props) ? props[name] : undefined
    const type = isObj(schema) ? schema.type : undefined
    const numeric = type === 'number' || type === 'integer'
    const shapes = (prov.shapes?.[tool]?.[name] ?? []).filter((sh) => sh !== 'x')
    if (!numeric && shapes.length === 0) continue
    const fits = ({ i, w }: { i: number; w: string }): boolean => {
      if (w === '' || used.has(w.toLowerCase())) return false
      if (numeric) return NUMERIC.test(w)
      const sh = wordShape(w)
      return Array.from(w).length > 1 && shapes.includes(sh) && !(i === 0 && sh === 'Xx')
    }
    const found = [...new Set(words.filter(fits).map(({ w }) => w))]
    if (found.length !== 1) continue
    const at = findWord(text, found[0], [])
    if (at < 0 || at >= req.length) continue
    args[name] = typed(found[0], isObj(schema) ? schema : {})
    spans.push({ name, start: codePoints(text, at), end: codePoints(text, at + found[0].length) })
    used.add(found[0].toLowerCase())
    changed = true
  }
  return changed ? withArgs(router, tool, r, args, spans) : r
}

/** A value copied from a result, converted to the schema's type where that is lossless. */
function typed(v: unknown, schema: Obj): unknown {
  const t = schema.type
  if ((t === 'number' || t === 'integer') && typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v)
  if (t === 'string' && (typeof v === 'number' || typeof v === 'boolean')) return String(v)
  if (t === 'string' && typeof v === 'string' && Array.isArray(schema.enum)) {
    const hit = schema.enum.find((e) => typeof e === 'string' && e.toLowerCase() === v.toLowerCase())
    return hit ?? v
  }
  return v
}

/**
 * The next step of a workflow: the router's route for the rendered state ({@link renderState}) of
 * `request` and `steps`. `tool` is the next tool, {@link FINISH} when the work is done, or null when
 * the router is unsure (the LLM's turn). Arguments come from the request or from earlier results;
 * their `spans` refer to `renderState(request, steps)`. Also {@link Router.next}.
 * @example
 * ```ts
 * nextStep(router, 'refund order A123', [{ tool: 'lookup_order', args: { order_id: 'A123' }, result: { status: 'delivered', amount: 40 } }])
 * // { tool: 'refund_order', args: { order_id: 'A123', amount: 40 }, complete: true, ... }
 * ```
 */
export function nextStep(router: Router, request: string, steps: readonly WorkflowStep[], opts?: RouteOneOptions): Route {
  if (typeof router !== 'object' || router === null || typeof router.route !== 'function') {
    throw invalid('router', 'expected a Router')
  }
  const text = stateFor(router, request, steps)
  const prov = provenanceOf(router)
  // The request as the state begins with it: its end in UTF-16 units and in code points (spans).
  const req = clean(request, 10_000)
  const reqChars = Array.from(req).length
  // A request whose workflows always made a call is not done before its first one: on held-out
  // phrasings the model, having seen `finish` only after a history, could still put it first
  // (docs/eval-workflows.md). The exclusion hands its probability to the tools.
  // `finish` is what next() answers for FINISH_LABEL: excluding it excludes that.
  const given = opts?.exclude
  if (given !== undefined && (!Array.isArray(given) || given.some((x) => typeof x !== 'string'))) {
    throw invalid('exclude', 'expected an array of tool names')
  }
  const exclude = [
    ...new Set([...(given ?? []).map((x) => (x === FINISH ? FINISH_LABEL : x)), ...(steps.length === 0 && prov?.emptyFinishes === 0 ? [FINISH_LABEL] : [])]),
  ]
  const step = (threshold?: number): Route => {
    const o = threshold === undefined ? opts : { ...opts, threshold }
    const routed = snapToWords(router, text, req.length, collapseRepeats(router, router.route(text, exclude.length > 0 ? { ...o, exclude } : o)))
    const trusted = distrustHistory(router, prov, request, steps, fromHistory(router, prov, steps, text, routed))
    return fillByShape(router, prov, req, steps, text, distrustContext(router, prov, reqChars, trusted))
  }
  // Nor does it take a tool whose argument looks like none of that argument's training values ("ORCL"
  // as an order id, "Thursday" as a ticker): on new phrasings the model can be sure of the wrong tool,
  // whose call would fail or do harm. The tool is excluded and the step routed again. When the step is
  // unsure, its best tool is read at threshold 0: if the shapes rule it out, the rest may be sure.
  const best = (x: Route): Route => (x.tool === null && x.reason === 'low_confidence' && prov?.shapes !== undefined ? step(0) : x)
  let r = step()
  for (let b = best(r); b.tool !== null && offShape(prov, b) && exclude.length + 2 < router.tools.length; b = best(r)) {
    exclude.push(b.tool)
    r = step()
  }
  const name = (t: string): string => (t === FINISH_LABEL ? FINISH : t)
  return {
    ...r,
    tool: r.tool === null ? null : name(r.tool),
    alternatives: r.alternatives.map((a) => ({ ...a, tool: name(a.tool) })),
  }
}

// ---------------------------------------------------------------------------------------------
// Running a chain
// ---------------------------------------------------------------------------------------------

/** Runs one tool of a chain. A throw (or a rejected promise) hands the chain over to the LLM. */
/** Runs one step's tool; `context.id` is the call's id in the synthetic history. */
export type ChainTool = (args: Record<string, unknown>, context: { id: string; signal?: AbortSignal }) => unknown

/** What the LLM receives when a chain is handed over. */
export interface Handover<F extends HistoryFormat> {
  request: string
  /** The steps that ran locally, with their results. */
  steps: WorkflowStep[]
  /**
   * The steps as the LLM itself would have made and received them ({@link toSyntheticHistory}), one
   * call and one result each, to append to the conversation after the user's request.
   */
  history: Array<SyntheticHistoryMap[F][number]>
  /**
   * The router's answer for the step it would not take (low confidence, incomplete, unknown tool, a
   * tool error, a call the chain already made, or `maxSteps` reached).
   */
  route: Route
  reason: ChainHandoverReason
  /**
   * The error of the local tool that failed, when that is the reason: thrown, or returned (an `error`
   * field) to a router whose training workflows had no error results.
   */
  error?: string
  /**
   * The call that failed, when that is the reason: one that threw (it is in neither `steps` nor
   * `history`), or the last of `steps` (it returned the error).
   */
  failed?: WorkflowStep
}

/** Why a chain went to the LLM. */
export type ChainHandoverReason =
  | 'low_confidence'
  | 'out_of_scope'
  | 'incomplete'
  | 'no_executor'
  | 'tool_error'
  | 'max_steps'
  | 'repeated_call'

/** Options of {@link runChain}. */
export interface RunChainOptions<F extends HistoryFormat> {
  /** A router trained on workflows (its tools include {@link FINISH}). */
  router: Router
  /** The functions that run the tools, by name. A step whose tool has none goes to the LLM. */
  tools: Record<string, ChainTool>
  /** The user's request. */
  request: string
  /** Steps that already ran (to continue a chain). @default [] */
  steps?: readonly WorkflowStep[]
  /**
   * Takes over when the router is unsure: it gets the request, the steps run and their synthetic
   * history in `format`; its return value (awaited) is the result's `llm`. Without it, a handed-over
   * chain returns with `status: 'handover'` and the history for the caller to send.
   */
  llm?: (handover: Handover<F>) => unknown
  /** The message format of the synthetic history. @default 'openai' */
  format?: F
  /** Most tool calls run locally. @default 8 */
  maxSteps?: number
  /**
   * Let a step repeat a call the chain already made (same tool, same arguments). Off by default: a
   * router that proposes the same call again is going round in circles (a side-effecting call such as
   * an e-mail would go out twice), and the chain goes to the LLM with reason `repeated_call` instead.
   * @default false
   */
  allowRepeatedCalls?: boolean
  /** Confidence under which a step goes to the LLM. @default the router's threshold */
  minConfidence?: number
  signal?: AbortSignal
}

/** What {@link runChain} returns. */
export interface ChainResult<F extends HistoryFormat> {
  /** `done`: the router said `finish`; `handover`: the LLM has (or is to have) the rest. */
  status: 'done' | 'handover'
  /** The steps run locally, with their results, in order. */
  steps: WorkflowStep[]
  /** Each step's route, and the last one (the `finish` or the one handed over). */
  routes: Route[]
  /** The synthetic history of the local steps in `format` (also the handover's). */
  history: Array<SyntheticHistoryMap[F][number]>
  /** Present when handed over. */
  handover?: Handover<F>
  /** What `llm` returned, when it was called. */
  llm?: unknown
}

/**
 * Runs a workflow locally while each step is confident and complete: routes the state
 * ({@link nextStep}), runs `tools[route.tool](route.args)`, appends the step, and stops at
 * {@link FINISH}. A step the router is unsure of (or whose call is incomplete, has no executor or
 * throws) hands the rest to `llm` with the synthetic history of the steps already run, so the LLM
 * picks up as if it had made those calls itself.
 * @example
 * ```ts
 * const r = await runChain({ router, request: 'refund order A123', tools: { lookup_order, refund_order }, format: 'openai',
 *   llm: ({ history }) => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'refund order A123' }, ...history], tools }) })
 * r.status // 'done'
 * r.steps.map((s) => s.tool) // ['lookup_order', 'refund_order']
 * ```
 */
export async function runChain<F extends HistoryFormat = 'openai'>(options: RunChainOptions<F>): Promise<ChainResult<F>> {
  if (!isObj(options)) throw invalid('options', 'expected an object')
  const { router, tools, request, llm, signal } = options
  const format = (options.format ?? 'openai') as F
  checkFormat(format)
  const maxSteps = options.maxSteps ?? 8
  if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) throw invalid('maxSteps', `expected a positive integer, got ${String(maxSteps)}`)
  if (typeof request !== 'string') throw invalid('request', 'expected a string')
  if (!isObj(tools)) throw invalid('tools', 'expected an object of functions')
  for (const [name, fn] of Object.entries(tools)) if (typeof fn !== 'function') throw invalid(`tools.${name}`, 'expected a function')
  if (llm !== undefined && typeof llm !== 'function') throw invalid('llm', 'expected a function')
  const { minConfidence } = options
  if (minConfidence !== undefined && !(typeof minConfidence === 'number' && minConfidence >= 0 && minConfidence <= 1)) {
    throw invalid('minConfidence', `expected a number in [0, 1], got ${String(minConfidence)}`)
  }
  const { allowRepeatedCalls } = options
  if (allowRepeatedCalls !== undefined && typeof allowRepeatedCalls !== 'boolean') {
    throw invalid('allowRepeatedCalls', `expected a boolean, got ${String(allowRepeatedCalls)}`)
  }
  const prior = options.steps ?? []
  checkSteps(prior, 'steps')
  const steps: WorkflowStep[] = prior.map((s) => ({ ...s, args: { ...(s.args ?? {}) } }))
  const history: Array<SyntheticHistoryMap[F][number]> = []
  const record = (s: WorkflowStep, id?: string): void => {
    history.push(...toSyntheticHistory({ tool: s.tool, args: s.args, id }, s.result, format))
  }
  steps.forEach((s) => record(s))
  const routes: Route[] = []
  const opts = minConfidence === undefined ? undefined : { threshold: minConfidence }
  const errorsLearned = provenanceOf(router)?.errorResults !== 0

  const handover = async (route: Route, reason: ChainHandoverReason, error?: string, failed?: WorkflowStep): Promise<ChainResult<F>> => {
    const h: Handover<F> = { request, steps: [...steps], history: [...history], route, reason, ...(error ? { error } : {}), ...(failed ? { failed } : {}) }
    const out: ChainResult<F> = { status: 'handover', steps, routes, history, handover: h }
    if (llm !== undefined) out.llm = await llm(h)
    return out
  }

  for (let ran = 0; ; ran++) {
    throwIfAborted(signal)
    const route = nextStep(router, request, steps, opts)
    routes.push(route)
    // After a tool reported an error, a router whose training workflows never had one would only
    // guess what comes next (on new phrasings it said `finish` after a call to the wrong tool).
    const failed = steps.length === 0 ? undefined : errorOf(steps[steps.length - 1].result)
    if (failed !== undefined && !errorsLearned) return handover(route, 'tool_error', failed, steps[steps.length - 1])
    if (route.tool === null) return handover(route, route.reason === 'out_of_scope' ? 'out_of_scope' : 'low_confidence')
    if (route.tool === FINISH) return { status: 'done', steps, routes, history }
    if (ran >= maxSteps) return handover(route, 'max_steps')
    if (!route.complete) return handover(route, 'incomplete')
    const call = { tool: route.tool, args: route.args }
    if (allowRepeatedCalls !== true && steps.some((s) => sameStep(s, call))) {
      return handover(route, 'repeated_call')
    }
    const fn = Object.hasOwn(tools, route.tool) ? tools[route.tool] : undefined
    if (fn === undefined) return handover(route, 'no_executor')
    // One id for the tool and the history, so the tool sees the call it is answering.
    const id = newToolCallId(format)
    let step: WorkflowStep
    let messages: Array<SyntheticHistoryMap[F][number]>
    try {
      step = { tool: route.tool, args: route.args, result: await fn(route.args, { id, signal }) }
      // Built here: a result the history cannot carry (a cycle) is the tool's failure, not a
      // rejected chain after the tool ran.
      messages = toSyntheticHistory({ tool: step.tool, args: step.args, id }, step.result, format)
    } catch (e) {
      throwIfAborted(signal)
      const error = e instanceof Error ? e.message || e.name : String(e)
      return handover(route, 'tool_error', error, { tool: route.tool, args: route.args })
    }
    steps.push(step)
    history.push(...messages)
  }
}
