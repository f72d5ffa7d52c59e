/**
 * Learning from logs: recorded LLM requests and responses with tool calls become training examples,
 * the last user message as `text` and the tool the LLM called (with its arguments) as the label.
 *
 * @example
 * ```ts
 * import { examplesFromTraces, Trainer } from 'toolrouter'
 * const examples = examplesFromTraces(readFileSync('traces.jsonl', 'utf8'), { format: 'openai' })
 * const router = await new Trainer({ tools }).fit([...train, ...examples])
 * ```
 */
import type { Example, Span } from '../index.js'
import { ToolrouterError } from './errors'
import { lastUserText } from './cascade'

/** The trace formats {@link examplesFromTraces} reads. */
export type TraceFormat = 'openai' | 'openai-responses' | 'anthropic' | 'ai-sdk'

/** The trace formats, for validation and help texts. */
export const TRACE_FORMATS: readonly TraceFormat[] = ['openai', 'openai-responses', 'anthropic', 'ai-sdk']

/** Options of {@link examplesFromTraces}. */
export interface TracesOptions {
  /** The API the records come from. */
  format: TraceFormat
  /**
   * Drop repeated examples (same text, tool and arguments), as a multi-step tool loop logs the same
   * decision once per step.
   * @default true
   */
  dedupe?: boolean
  /** Names the source in error messages (`file:line`). @default 'traces' */
  source?: string
}

/** {@link examplesFromTraces} with counts, for reports. */
export interface TracesResult {
  examples: Example[]
  /** Records read. */
  records: number
  /** Records without a user message followed by an LLM answer (nothing to learn). */
  skipped: number
  /** Examples dropped as repeats. */
  duplicates: number
}

function dataError(source: string, line: number | undefined, message: string): ToolrouterError {
  return new ToolrouterError('DATASET_INVALID', `${source}${line === undefined ? '' : `:${line}`}: ${message}`)
}

/** Records from a JSON array, one JSON object, or JSONL text; each with its line for errors. */
function parseRecords(text: string, source: string): { record: unknown; line?: number }[] {
  // A byte order mark, as the examples loader accepts one.
  const input = text.replace(/^\uFEFF/, '')
  if (input.trim() === '') throw dataError(source, undefined, 'no records')
  let whole: unknown
  try {
    whole = JSON.parse(input) as unknown
  } catch {
    // JSONL: one record a line.
    const out: { record: unknown; line?: number }[] = []
    input.split('\n').forEach((l, i) => {
      if (l.trim() !== '') out.push({ record: parseLine(l, source, i + 1), line: i + 1 })
    })
    return out
  }
  return Array.isArray(whole) ? whole.map((record) => ({ record })) : [{ record: whole, line: 1 }]
}

function parseLine(line: string, source: string, n: number): unknown {
  try {
    return JSON.parse(line) as unknown
  } catch (e) {
    throw dataError(source, n, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** The conversation a record holds: the request's messages, then the response's (also read by `workflowsFromTraces`). */
export function conversation(rec: Obj, format: TraceFormat): unknown[] {
  const request = isObj(rec.request) ? rec.request : isObj(rec.body) ? rec.body : rec
  const sent = request.messages ?? request.prompt ?? rec.messages ?? rec.prompt
  // `generateText({ prompt: '…' })`: a string prompt is one user message.
  const prompt = typeof sent === 'string' ? [{ role: 'user', content: sent }] : arr(sent)
  const response = isObj(rec.response) ? rec.response : isObj(rec.result) ? rec.result : undefined
  if (format === 'openai-responses') {
    const input = request.input ?? rec.input
    const items = typeof input === 'string' ? [{ role: 'user', content: input }] : arr(input)
    return responsesAsChat([...items, ...arr(response?.output)])
  }
  const out = [...prompt]
  if (format === 'openai') {
    const choice = arr(response?.choices)[0]
    if (isObj(choice) && isObj(choice.message)) out.push(choice.message)
  } else if (format === 'anthropic') {
    if (response !== undefined && Array.isArray(response.content))
      out.push({ role: 'assistant', content: response.content })
  } else {
    // AI SDK: a generateText result or one of its steps, with `response.messages`, or only `toolCalls`.
    // A result serialised whole keeps only `steps` (the rest are getters), and its `toolCalls` are
    // the last step's (the final text, after a multi-step loop): the first step is the decision.
    const whole = response ?? rec
    const inner = isObj(whole.response) ? whole.response : whole
    const generated = response !== undefined ? arr(inner.messages) : []
    const firstStep = arr(whole.steps).find(isObj)
    const res = generated.length === 0 && firstStep !== undefined ? firstStep : whole
    const stepMessages = res !== whole && isObj(res.response) ? arr(res.response.messages) : []
    if (generated.length > 0) out.push(...generated)
    else if (stepMessages.length > 0) out.push(...stepMessages)
    else if (Array.isArray(res.toolCalls) || typeof res.text === 'string') {
      const parts = arr(res.toolCalls).map((c) => ({ type: 'tool-call', ...(isObj(c) ? c : {}) }))
      out.push({ role: 'assistant', content: parts.length > 0 ? parts : String(res.text ?? '') })
    }
  }
  return out
}

/**
 * OpenAI Responses items as Chat Completions messages: an assistant turn's items (its text, its
 * `function_call`s, reasoning skipped) become one assistant message with `tool_calls`, a
 * `function_call_output` a tool message, input messages stay as they are.
 */
function responsesAsChat(items: unknown[]): unknown[] {
  const out: unknown[] = []
  let turn: { role: 'assistant'; content: string | null; tool_calls: unknown[] } | undefined
  const assistant = () => {
    if (turn === undefined) {
      turn = { role: 'assistant', content: null, tool_calls: [] }
      out.push(turn)
    }
    return turn
  }
  for (const item of items.filter(isObj)) {
    if (item.type === 'reasoning') continue
    if (item.type === 'function_call') {
      assistant().tool_calls.push({ type: 'function', function: { name: item.name, arguments: item.arguments } })
    } else if (item.role === 'assistant') {
      const t = assistant()
      const parts = typeof item.content === 'string' ? [item.content] : arr(item.content).filter(isObj).map((p) => p.text)
      t.content = [t.content ?? '', ...parts.filter((x): x is string => typeof x === 'string')].join('')
    } else {
      turn = undefined
      out.push(item.type === 'function_call_output' ? { role: 'tool', content: item.output } : item)
    }
  }
  return out
}

/** Tool calls of an assistant message, or undefined when the message is not the LLM's. */
function assistantCalls(m: unknown, format: TraceFormat): { tool: string; args: unknown }[] | undefined {
  if (!isObj(m) || m.role !== 'assistant') return undefined
  // Responses records were read as Chat Completions messages (`responsesAsChat`).
  if (format === 'openai' || format === 'openai-responses') {
    // The legacy `function_call` too. A call of another kind (`custom`, free-text input) is kept
    // nameless, so that a record whose first call it is teaches nothing rather than "no tool".
    const legacy = isObj(m.function_call) ? [{ function: m.function_call }] : []
    return [...arr(m.tool_calls), ...legacy]
      .filter(isObj)
      .map((c) => (isObj(c.function) ? { tool: String(c.function.name), args: c.function.arguments } : { tool: '', args: undefined }))
  }
  const parts = arr(m.content).filter(isObj)
  if (format === 'anthropic') {
    return parts.filter((p) => p.type === 'tool_use').map((p) => ({ tool: String(p.name), args: p.input }))
  }
  return parts.filter((p) => p.type === 'tool-call').map((p) => ({ tool: String(p.toolName), args: p.input ?? p.args }))
}

/** Tool-call arguments as an object: JSON text is parsed; anything else that is not an object is undefined. */
export function argsObject(args: unknown): Record<string, unknown> | undefined {
  if (typeof args === 'string') {
    try {
      args = args.trim() === '' ? {} : (JSON.parse(args) as unknown)
    } catch {
      return undefined
    }
  }
  if (args === undefined || args === null) return {}
  return isObj(args) ? args : undefined
}

/** The example a record teaches, or undefined when it has none. */
function exampleOf(rec: unknown, format: TraceFormat): Example | undefined {
  if (!isObj(rec)) return undefined
  const msgs = conversation(rec, format)
  // The last user turn with text, and the LLM's first answer after it.
  let userAt = -1
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (lastUserText([msgs[i]]) !== undefined) {
      userAt = i
      break
    }
  }
  if (userAt < 0) return undefined
  const text = lastUserText([msgs[userAt]]) as string
  for (const m of msgs.slice(userAt + 1)) {
    const calls = assistantCalls(m, format)
    if (calls === undefined) continue
    if (calls.length === 0) return { text, tool: null, args: {} }
    const args = argsObject(calls[0].args)
    if (args === undefined || calls[0].tool === '') return undefined
    const spans = locateSpans(text, args)
    return { text, tool: calls[0].tool, args, ...(spans ? { spans } : {}) }
  }
  return undefined
}

/** UTF-16 index to Unicode code points (spans count code points). */
export function codePoints(s: string, end: number): number {
  let n = 0
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xdc00 || c > 0xdfff) n++
  }
  return n
}

/**
 * Where each argument value occurs in `text` (case-insensitive, in Unicode code points), as the
 * router's training expects. Strings, numbers and arrays of them are located; other values (booleans,
 * objects) have no span. Undefined when some locatable value is not in the text (the LLM reworded
 * it): the example then trains the tool choice only, as the Rust side does with such examples.
 * @example
 * ```ts
 * locateSpans('weather in Oslo', { city: 'Oslo' }) // [{ name: 'city', start: 11, end: 15 }]
 * ```
 */
export function locateSpans(text: string, args: Record<string, unknown>): Span[] | undefined {
  const hay = fold(text)
  const taken: [number, number][] = []
  const spans: Span[] = []
  for (const [name, value] of Object.entries(args)) {
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') continue
      const needle = fold(String(v))
      if (needle === '') return undefined
      const at = wholeWordMatch(hay, needle, taken)
      if (at < 0) return undefined
      taken.push([at, at + needle.length])
      spans.push({ name, start: codePoints(text, at), end: codePoints(text, at + needle.length) })
    }
  }
  return spans.sort((a, b) => a.start - b.start)
}

/** Lower case, one character for one, so indices do not move (as the Rust side folds). */
function fold(s: string): string {
  let out = ''
  for (const ch of s) {
    const l = ch.toLowerCase()
    out += l.length === ch.length ? l : ch
  }
  return out
}

const WORD_CHAR = /[\p{L}\p{N}]/u

/**
 * Where `needle` occurs in `hay` clear of the `taken` ranges: the first occurrence that is a whole
 * word ("AI" in "emails about AI" is the last one, "5" in "room 15 … to 5" the second), else the
 * first at all; -1 when none.
 */
function wholeWordMatch(hay: string, needle: string, taken: [number, number][]): number {
  const edge = (i: number): boolean => i < 0 || i >= hay.length || !WORD_CHAR.test(hay[i])
  const startsWord = WORD_CHAR.test(needle[0])
  const endsWord = WORD_CHAR.test(needle[needle.length - 1])
  let first = -1
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
    const end = at + needle.length
    if (taken.some(([a, b]) => at < b && end > a)) continue
    if ((!startsWord || edge(at - 1)) && (!endsWord || edge(end))) return at
    if (first < 0) first = at
  }
  return first
}

/**
 * {@link examplesFromTraces}, with the counts of records read, skipped and duplicated.
 * @example
 * ```ts
 * const { examples, skipped } = readTraces(text, { format: 'anthropic' })
 * ```
 */
export function readTraces(records: unknown[] | string, options: TracesOptions): TracesResult {
  if (typeof options !== 'object' || options === null || !TRACE_FORMATS.includes(options.format)) {
    throw new ToolrouterError(
      'INVALID_ARGUMENT',
      `invalid argument \`format\`: expected one of ${TRACE_FORMATS.map((f) => `'${f}'`).join(', ')}, got ${String(options?.format)}`,
    )
  }
  const source = options.source ?? 'traces'
  let items: { record: unknown; line?: number }[]
  if (typeof records === 'string') items = parseRecords(records, source)
  else if (Array.isArray(records)) items = records.map((record) => ({ record }))
  else throw new ToolrouterError('INVALID_ARGUMENT', 'invalid argument `records`: expected an array or JSON/JSONL text')
  const seen = new Set<string>()
  const examples: Example[] = []
  let skipped = 0
  let duplicates = 0
  items.forEach(({ record, line }, i) => {
    if (!isObj(record)) throw dataError(source, line ?? i + 1, 'expected a JSON object')
    const ex = exampleOf(record, options.format)
    if (ex === undefined) {
      skipped++
      return
    }
    const key = JSON.stringify([ex.text, ex.tool, ex.args])
    if (options.dedupe !== false && seen.has(key)) {
      duplicates++
      return
    }
    seen.add(key)
    examples.push(ex)
  })
  return { examples, records: items.length, skipped, duplicates }
}

/**
 * Training examples from recorded LLM traffic: each record (a request and its response, or a whole
 * conversation) gives the last user message's text, and the tool the LLM called first after it with
 * its arguments (spans located in the text), or `tool: null` when the LLM answered without a tool.
 * Records with no LLM answer after the user message are skipped.
 *
 * Records, per `format`:
 * - `openai`: `{ request: { messages, tools? }, response: ChatCompletion }`, or `{ messages }`.
 * - `anthropic`: `{ request: { messages, system?, tools? }, response: Message }`, or `{ messages }`.
 * - `ai-sdk`: `{ messages, response: { messages } }` (the prompt and a `generateText` result or
 *   step), `{ messages, toolCalls }`, or `{ messages }` with the generated messages in it.
 *
 * `records` is an array, or the text of a JSON array or of JSONL (one record a line).
 * @default options.dedupe true
 * @example
 * ```ts
 * const examples = examplesFromTraces([{ request: { model, messages }, response: completion }], { format: 'openai' })
 * ```
 */
export function examplesFromTraces(records: unknown[] | string, options: TracesOptions): Example[] {
  return readTraces(records, options).examples
}
