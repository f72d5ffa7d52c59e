/**
 * The cascade: the router in front of the LLM. A confident, complete route runs the tool locally
 * and writes its result into the conversation as synthetic history; anything else goes to the LLM
 * with a shortlist of the likely tools, and the LLM's choice is recorded to train the router on.
 *
 * @example
 * ```ts
 * import { Cascade, openaiChat } from 'toolrouter'
 * const cascade = new Cascade({ router, tools: { get_weather: ({ city }) => weather(city) }, llm: openaiChat(openai, { model: 'gpt-4o-mini' }) })
 * const { decision, messages } = await cascade.run([{ role: 'user', content: 'will it rain in Oslo tomorrow?' }])
 * ```
 */
import type { Example, Route, Router, ToolSpec } from '../index.js'
import { throwIfAborted, ToolrouterError } from './errors'
import {
  checkFormat,
  resultText,
  settleCall,
  toolCallMessages,
  toolResultMessages,
  type CascadeMessage,
  type HistoryFormat,
} from './history'
import { messageTokens, toolTokens, countTokens, type TokenCounter } from './tokens'
import { locateSpans } from './traces'
import { FINISH_LABEL, runChain, type ChainResult, type WorkflowStep } from './workflow'

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** What a tool's `execute` receives besides its arguments. */
export interface ToolContext {
  /** The id of the call in the conversation. */
  id: string
  /** The signal passed to {@link Cascade.run}. */
  signal?: AbortSignal
}

/** Runs one tool. A thrown error (or a rejected promise) is reported to the LLM, never lost. */
export type ToolExecute = (args: Record<string, unknown>, context: ToolContext) => unknown

/** Tool names to the functions that run them. */
export type ToolExecutors = Record<string, ToolExecute>

/** One tool call the LLM made. */
export interface LlmToolCall {
  id: string
  tool: string
  args: Record<string, unknown>
  /**
   * Set when the LLM's arguments were not a JSON object (cut off, or malformed): the cascade does not
   * run such a call, sends the LLM this error as its result, and records nothing from it.
   */
  argsError?: string
}

/** What the cascade asks of the LLM. */
export interface LlmRequest<M> {
  /** The conversation so far, synthetic history included. */
  messages: ReadonlyArray<M | CascadeMessage<HistoryFormat>>
  /** The tools to offer, most likely first (empty: offer none). */
  tools: ToolSpec[]
  /** `none`: the tool has run, write the answer; `auto`: the LLM's usual turn. */
  toolChoice: 'auto' | 'none'
  /**
   * A note for the LLM, for a system prompt: the router's best guesses and, when a local call failed,
   * the error. Absent when there is nothing to say.
   */
  hint?: string
  signal?: AbortSignal
}

/** The LLM's turn: its messages (in the conversation's format), the tool calls in them, its text. */
export interface LlmTurn<F extends HistoryFormat> {
  messages: CascadeMessage<F>[]
  toolCalls: LlmToolCall[]
  text: string
  /** Tokens the provider reports for this call. */
  usage?: { inputTokens?: number; outputTokens?: number }
}

/**
 * The user's LLM, as the cascade calls it: one request, one turn. {@link openaiChat},
 * {@link anthropicMessages} and {@link aiSdk} make one from a client you already have.
 */
export interface CascadeLlm<F extends HistoryFormat> {
  /** The message format of the conversation. */
  format: F
  call(request: LlmRequest<unknown>): Promise<LlmTurn<F>>
}

/** Options of {@link Cascade}. */
export interface CascadeOptions<F extends HistoryFormat> {
  /** The trained router. */
  router: Router
  /** The functions that run the tools, by name. Tools without one are always left to the LLM. */
  tools: ToolExecutors
  /** The LLM to fall back on and to phrase answers. */
  llm: CascadeLlm<F>
  /**
   * Tool specs the LLM may be offered. Tools the router does not know (new ones) are always
   * offered, after the shortlist.
   * @default router.tools
   */
  specs?: ToolSpec[]
  /**
   * How many of the router's best tools to offer the LLM when the router is unsure.
   * @default all tools
   */
  shortlist?: number
  /**
   * Confidence under which the router's call is left to the LLM.
   * @default the router's calibrated threshold (`router.threshold`)
   */
  minConfidence?: number
  /**
   * Most LLM calls in one run (the LLM's own tool loop: call, run its tools, call again).
   * @default 4
   */
  maxSteps?: number
  /**
   * Counts tokens for `usage`.
   * @default o200k_base ({@link countTokens})
   */
  countTokens?: TokenCounter
}

/** Options of {@link Cascade.run}. */
export interface RunOptions {
  /**
   * Return as soon as the tool results are in the conversation, without asking the LLM to phrase
   * the answer (a local route then makes no LLM call at all).
   * @default false
   */
  toolResultsOnly?: boolean
  /** Passed to the tools and the LLM. */
  signal?: AbortSignal
}

/** Tokens and calls of one run against a plain LLM tool loop with every tool in every request. */
export interface CascadeUsage {
  /** LLM calls made. */
  llmCalls: number
  /** LLM calls a plain tool loop would have made that this run did not. */
  llmCallsAvoided: number
  /** Prompt tokens of the LLM calls made (counted, not reported by the provider). */
  promptTokens: number
  /** Prompt tokens a plain LLM tool loop with all tools would have sent for the same turn. */
  baselinePromptTokens: number
  /** `baselinePromptTokens - promptTokens`. */
  tokensSaved: number
  /** Of which tool definitions. */
  toolTokensSaved: number
  /** Of which messages (the calls not made). */
  messageTokensSaved: number
  /** Input and output tokens the provider reported, summed over the calls (0 when it reports none). */
  reportedInputTokens: number
  reportedOutputTokens: number
  /** Time spent in `router.route`, in milliseconds. */
  routeMs: number
}

/** What {@link Cascade.run} returns. */
export interface CascadeResult<M, F extends HistoryFormat> {
  /** `local`: the router's call ran; `llm`: the LLM decided. */
  decision: 'local' | 'llm'
  /** The router's answer for the request. */
  route: Route
  /** The conversation: the input, then what the run appended. */
  messages: Array<M | CascadeMessage<F>>
  /** The LLM's final text (empty when it was not called or wrote none). */
  text: string
  /** Tool calls made in this run (locally or by the LLM), with their results. */
  calls: Array<LlmToolCall & { result: unknown; error?: string }>
  usage: CascadeUsage
}

/** An LLM decision, kept to retrain the router on. */
export interface CascadeRecord {
  /** The request (the last user message's text). */
  text: string
  /** The tool the LLM called first, or null when it called none. */
  tool: string | null
  args: Record<string, unknown>
  /** What the router had said. */
  route: { tool: string | null; confidence: number; reason: Route['reason'] }
}

/** Totals over the runs of a cascade ({@link Cascade.stats}). */
export interface CascadeStats extends Omit<CascadeUsage, 'routeMs'> {
  runs: number
  local: number
  llm: number
  /** `local / runs` (0 before any run). */
  localShare: number
  /** Local calls whose tool threw (each went to the LLM). */
  toolErrors: number
  /** Mean time in `router.route`, in milliseconds. */
  meanRouteMs: number
}

// ---------------------------------------------------------------------------------------------
// Reading conversations
// ---------------------------------------------------------------------------------------------

function textOfParts(content: unknown): string | undefined {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return undefined
  const texts = content
    .filter((p): p is { type: string; text: string } => {
      const o = p as { type?: unknown; text?: unknown } | null
      return (
        typeof o === 'object' &&
        o !== null &&
        (o.type === 'text' || o.type === 'input_text') &&
        typeof o.text === 'string'
      )
    })
    .map((p) => p.text)
  return texts.length > 0 ? texts.join('\n') : undefined
}

/**
 * The text of the last user message of a conversation, in any of the formats (a user message that
 * only carries tool results is not one). `undefined` when there is none.
 * @example
 * ```ts
 * lastUserText([{ role: 'user', content: 'play some jazz' }]) // 'play some jazz'
 * ```
 */
export function lastUserText(messages: readonly unknown[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown; type?: unknown } | null
    if (typeof m !== 'object' || m === null || m.role !== 'user') continue
    const text = textOfParts(m.content)
    if (text !== undefined) return text
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Cascade
// ---------------------------------------------------------------------------------------------

function invalid(name: string, reason: string): ToolrouterError {
  return new ToolrouterError('INVALID_ARGUMENT', `invalid argument \`${name}\`: ${reason}`)
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

const EMPTY_TOTALS = {
  runs: 0,
  local: 0,
  llm: 0,
  toolErrors: 0,
  llmCalls: 0,
  llmCallsAvoided: 0,
  promptTokens: 0,
  baselinePromptTokens: 0,
  tokensSaved: 0,
  toolTokensSaved: 0,
  messageTokensSaved: 0,
  reportedInputTokens: 0,
  reportedOutputTokens: 0,
  routeMs: 0,
}

/**
 * The router in front of the LLM.
 *
 * `run(messages)` routes the last user message. When the router is confident (at least
 * `minConfidence`) and the call is complete (every required argument, valid against the schema)
 * and `tools` can run it, the tool runs here and the call and its result are appended as the LLM
 * would have written them ({@link toSyntheticHistory}); then the LLM is called once, without the
 * tool definitions, to phrase the answer (or not at all with `toolResultsOnly`). Otherwise the LLM
 * gets the conversation with the `shortlist` best tools and the router's guesses as a hint, its
 * tool calls run through `tools` (its usual loop, up to `maxSteps` calls), and its choice is
 * recorded ({@link Cascade.records}, {@link Cascade.examples}). A local tool that throws sends the
 * turn to the LLM with the error noted: the user's turn is never lost.
 *
 * @example
 * ```ts
 * const cascade = new Cascade({ router, tools, llm: openaiChat(openai, { model: 'gpt-4o-mini' }), shortlist: 3 })
 * const r = await cascade.run(messages)
 * r.decision // 'local'
 * r.usage.tokensSaved // 1519
 * cascade.stats().localShare // 0.9
 * ```
 */
export class Cascade<F extends HistoryFormat = HistoryFormat> {
  readonly #router: Router
  readonly #tools: ToolExecutors
  readonly #llm: CascadeLlm<F>
  readonly #format: F
  readonly #specs: ToolSpec[] | undefined
  readonly #shortlist: number | undefined
  readonly #minConfidence: number | undefined
  readonly #maxSteps: number
  readonly #count: TokenCounter
  readonly #records: CascadeRecord[] = []
  readonly #totals = { ...EMPTY_TOTALS }

  constructor(options: CascadeOptions<F>) {
    if (typeof options !== 'object' || options === null) throw invalid('options', 'expected an object')
    const { router, tools, llm, specs, shortlist, minConfidence, maxSteps = 4 } = options
    if (typeof router !== 'object' || router === null || typeof router.route !== 'function') {
      throw invalid('router', 'expected a Router')
    }
    if (typeof tools !== 'object' || tools === null) throw invalid('tools', 'expected an object of functions')
    for (const [name, fn] of Object.entries(tools)) {
      if (typeof fn !== 'function') throw invalid(`tools.${name}`, 'expected a function')
    }
    if (typeof llm !== 'object' || llm === null || typeof llm.call !== 'function') {
      throw invalid('llm', 'expected { format, call(request) }')
    }
    checkFormat(llm.format, 'llm.format')
    if (shortlist !== undefined && !(Number.isInteger(shortlist) && shortlist >= 1)) {
      throw invalid('shortlist', `expected a positive integer, got ${String(shortlist)}`)
    }
    if (
      minConfidence !== undefined &&
      !(typeof minConfidence === 'number' && minConfidence >= 0 && minConfidence <= 1)
    ) {
      throw invalid('minConfidence', `expected a number in [0, 1], got ${String(minConfidence)}`)
    }
    if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) {
      throw invalid('maxSteps', `expected a positive integer, got ${String(maxSteps)}`)
    }
    if (specs !== undefined && (!Array.isArray(specs) || specs.some((s) => typeof s?.name !== 'string'))) {
      throw invalid('specs', 'expected an array of { name, description?, parameters? }')
    }
    if (options.countTokens !== undefined && typeof options.countTokens !== 'function') {
      throw invalid('countTokens', 'expected a function')
    }
    this.#router = router
    this.#tools = { ...tools }
    this.#llm = llm
    this.#format = llm.format
    this.#specs = specs?.map((s) => ({ ...s }))
    this.#shortlist = shortlist
    this.#minConfidence = minConfidence
    this.#maxSteps = maxSteps
    this.#count = options.countTokens ?? countTokens
  }

  /** The message format of the conversations this cascade runs. */
  get format(): F {
    return this.#format
  }

  /**
   * Routes the last user message of `messages` and answers it locally or through the LLM (see
   * {@link Cascade}). `messages` is not modified; the result's `messages` is the new conversation.
   * @default options.toolResultsOnly false
   * @example
   * ```ts
   * const r = await cascade.run([{ role: 'user', content: 'set a timer for 10 minutes' }], { toolResultsOnly: true })
   * ```
   */
  async run<M>(messages: readonly M[], options: RunOptions = {}): Promise<CascadeResult<M, F>> {
    if (!Array.isArray(messages)) throw invalid('messages', 'expected an array of messages')
    const text = lastUserText(messages)
    if (text === undefined) throw invalid('messages', 'no user message with text content')
    const { toolResultsOnly = false, signal } = options
    throwIfAborted(signal)

    const t0 = performance.now()
    const route = this.#router.route(
      text,
      this.#minConfidence === undefined ? undefined : { threshold: this.#minConfidence },
    )
    const routeMs = performance.now() - t0

    const conversation: Array<M | CascadeMessage<F>> = [...messages]
    const calls: CascadeResult<M, F>['calls'] = []
    const usage: CascadeUsage = { ...EMPTY_TOTALS, routeMs }
    const allSpecs = this.#allSpecs()
    const allToolTokens = toolTokens(allSpecs, this.#format, this.#count)
    // A plain tool loop's first call: the conversation and every tool.
    const firstCallTokens = 3 + messageTokens(messages, this.#count) + allToolTokens

    let note: string | undefined
    if (route.tool !== null && route.complete && Object.hasOwn(this.#tools, route.tool)) {
      const call = settleCall({ tool: route.tool, args: route.args }, this.#format)
      let result: unknown
      let history: CascadeMessage<F>[] | undefined
      try {
        result = await this.#tools[call.tool](call.args, { id: call.id, signal })
        // Built here: a result the conversation cannot carry (a cycle) is the tool's failure,
        // not a lost turn after it ran.
        history = [...toolCallMessages([call], this.#format), ...toolResultMessages([call], [result], this.#format)]
      } catch (e) {
        throwIfAborted(signal)
        this.#totals.toolErrors++
        note = `The tool ${call.tool} was called with ${JSON.stringify(call.args)} and failed: ${errorMessage(e)}.`
      }
      if (history !== undefined) {
        calls.push({ ...call, result })
        conversation.push(...history)
        // A plain loop would call the LLM for the tool call, then again with its result.
        usage.baselinePromptTokens = firstCallTokens
        usage.llmCallsAvoided = 1
        let finalText = ''
        if (!toolResultsOnly) {
          // Anthropic refuses tool_use blocks in a request without tool definitions, and an AI SDK
          // model may be Anthropic's.
          const spec = allSpecs.filter((s) => s.name === call.tool)
          const tools = this.#format === 'anthropic' || this.#format === 'ai-sdk' ? spec : []
          usage.baselinePromptTokens += 3 + messageTokens(conversation, this.#count) + allToolTokens
          const turn = await this.#call(conversation, tools, 'none', undefined, signal, usage)
          conversation.push(...turn.messages)
          finalText = turn.text
        }
        this.#finish(usage, 'local')
        return { decision: 'local', route, messages: conversation, text: finalText, calls, usage }
      }
    }

    // The LLM decides, with the shortlist and the router's guesses.
    const offered = this.#offered(route, allSpecs)
    const hint = this.#hint(route, note)
    let finalText = ''
    let recorded = false
    for (let step = 0; step < this.#maxSteps; step++) {
      const before = conversation.length
      const turn = await this.#call(conversation, offered, 'auto', hint, signal, usage)
      // The same request with every tool and no hint, as a plain loop would send it.
      usage.baselinePromptTokens += 3 + messageTokens(conversation.slice(0, before), this.#count) + allToolTokens
      conversation.push(...turn.messages)
      finalText = turn.text
      const first = turn.toolCalls[0]
      // A call with broken arguments teaches nothing: the LLM's next try is recorded instead.
      if (!recorded && first?.argsError === undefined) {
        recorded = true
        this.#records.push({
          text,
          tool: first?.tool ?? null,
          args: first?.args ?? {},
          route: { tool: route.tool, confidence: route.confidence, reason: route.reason },
        })
      }
      if (turn.toolCalls.length === 0) break
      // Its usual loop: run what it called, give it the results.
      const results: unknown[] = []
      for (const c of turn.toolCalls) {
        const fn = Object.hasOwn(this.#tools, c.tool) ? this.#tools[c.tool] : undefined
        let result: unknown
        try {
          if (fn === undefined) throw new Error(`no tool named ${c.tool}`)
          if (c.argsError !== undefined) throw new Error(`invalid arguments: ${c.argsError}`)
          result = await fn(c.args, { id: c.id, signal })
          resultText(result)
          calls.push({ ...c, result })
        } catch (e) {
          throwIfAborted(signal)
          result = e instanceof Error ? e : new Error(String(e))
          calls.push({ ...c, result: undefined, error: errorMessage(e) })
        }
        results.push(result)
      }
      conversation.push(...toolResultMessages(turn.toolCalls, results, this.#format))
      if (toolResultsOnly) break
    }
    this.#finish(usage, 'llm')
    return { decision: 'llm', route, messages: conversation, text: finalText, calls, usage }
  }

  /**
   * Runs a multi-step workflow for `request` with {@link runChain}: this cascade's router (trained on
   * workflows), tools and threshold run the steps locally while each is confident and complete; the
   * rest goes to this cascade's LLM, once, with the request and the synthetic history of the steps
   * already run, and all tools offered; a local tool that failed is named, with its error, in the
   * request's `hint` (as {@link Cascade.run} notes one). The LLM's turn is the result's `llm`.
   * @example
   * ```ts
   * const r = await cascade.runChain('refund order A123')
   * if (r.status === 'handover') console.log((r.llm as LlmTurn<'openai'>).text)
   * ```
   */
  async runChain(
    request: string,
    options: { steps?: readonly WorkflowStep[]; maxSteps?: number; allowRepeatedCalls?: boolean; signal?: AbortSignal } = {},
  ): Promise<ChainResult<F>> {
    return runChain<F>({
      router: this.#router,
      tools: this.#tools,
      request,
      steps: options.steps,
      maxSteps: options.maxSteps,
      allowRepeatedCalls: options.allowRepeatedCalls,
      signal: options.signal,
      format: this.#format,
      minConfidence: this.#minConfidence,
      llm: ({ history, error, failed }) => {
        // A local tool that failed is noted as run() notes it: a call that threw is not in the
        // history, and a returned error is easy to read past.
        const note =
          failed === undefined
            ? undefined
            : `The tool ${failed.tool} was called with ${JSON.stringify(failed.args)} and failed: ${error ?? 'no message'}.`
        return this.#llm.call({
          messages: [{ role: 'user', content: request }, ...history],
          tools: this.#allSpecs(),
          toolChoice: 'auto',
          ...(note === undefined ? {} : { hint: note }),
          signal: options.signal,
        })
      },
    })
  }

  /** The LLM's decisions so far, oldest first: the request, the tool it called (or null) and its arguments. */
  records(): CascadeRecord[] {
    return this.#records.map((r) => ({ ...r, args: { ...r.args }, route: { ...r.route } }))
  }

  /**
   * The LLM's decisions as training examples (argument spans located in the text), to retrain the
   * router on: `new Trainer({ tools }).fit([...train, ...cascade.examples()])`.
   * @example
   * ```ts
   * const more = cascade.examples() // [{ text: 'is it snowing in Bergen', tool: 'get_weather', args: { city: 'Bergen' }, spans: [...] }]
   * ```
   */
  examples(): Example[] {
    return this.#records.map((r) => {
      const spans = r.tool === null ? [] : locateSpans(r.text, r.args)
      return { text: r.text, tool: r.tool, args: { ...r.args }, ...(spans ? { spans } : {}) }
    })
  }

  /** Forgets the recorded decisions (after retraining on them). */
  clearRecords(): void {
    this.#records.length = 0
  }

  /**
   * Totals over every run: runs, local and LLM decisions, the local share, tokens and LLM calls
   * saved against a plain LLM tool loop.
   * @example
   * ```ts
   * const { localShare, tokensSaved, llmCallsAvoided } = cascade.stats()
   * ```
   */
  stats(): CascadeStats {
    const { routeMs, ...t } = this.#totals
    return {
      ...t,
      localShare: t.runs === 0 ? 0 : t.local / t.runs,
      meanRouteMs: t.runs === 0 ? 0 : routeMs / t.runs,
    }
  }

  /**
   * The tools the LLM may be offered: never a workflow router's finish pseudo-tool, which is no tool
   * to call and whose schema carries what the router learned from the workflows.
   */
  #allSpecs(): ToolSpec[] {
    return (this.#specs ?? this.#router.tools).filter((t) => t.name !== FINISH_LABEL)
  }

  /** The router's best tools first, up to `shortlist`; tools the router does not know after them. */
  #offered(route: Route, all: ToolSpec[]): ToolSpec[] {
    const known = new Set(this.#router.tools.map((t) => t.name))
    const byName = new Map(all.map((s) => [s.name, s]))
    const ranked = [route.tool, ...route.alternatives.map((a) => a.tool), ...this.#router.tools.map((t) => t.name)]
    const order: string[] = []
    for (const name of ranked) if (name !== null && byName.has(name) && !order.includes(name)) order.push(name)
    const k = this.#shortlist ?? order.length
    const unknown = all.filter((s) => !known.has(s.name))
    return [...order.slice(0, k).map((n) => byName.get(n) as ToolSpec), ...unknown]
  }

  #hint(route: Route, note: string | undefined): string | undefined {
    const guesses = [
      ...(route.tool === null ? [] : [{ tool: route.tool, confidence: route.confidence }]),
      ...route.alternatives,
    ].slice(0, 3)
    const parts: string[] = []
    if (note !== undefined) parts.push(note)
    if (route.reason === 'out_of_scope') parts.push('A tool router judged that no tool may be needed for this request.')
    if (guesses.length > 0 && route.reason !== 'out_of_scope') {
      parts.push(
        `A tool router's best guesses for this request: ${guesses.map((g) => `${g.tool} (${g.confidence.toFixed(2)})`).join(', ')}.`,
      )
    }
    return parts.length === 0 ? undefined : parts.join(' ')
  }

  async #call(
    messages: ReadonlyArray<unknown>,
    tools: ToolSpec[],
    toolChoice: 'auto' | 'none',
    hint: string | undefined,
    signal: AbortSignal | undefined,
    usage: CascadeUsage,
  ): Promise<LlmTurn<F>> {
    const request: LlmRequest<unknown> = {
      messages: [...messages],
      tools,
      toolChoice,
      ...(hint ? { hint } : {}),
      signal,
    }
    let turn: LlmTurn<F>
    try {
      turn = await this.#llm.call(request)
    } catch (e) {
      throwIfAborted(signal)
      throw e
    }
    throwIfAborted(signal)
    // Checked before anything is read from it: a bad return is the caller's bug, named as such.
    if (!Array.isArray(turn?.messages) || !Array.isArray(turn.toolCalls)) {
      throw new ToolrouterError(
        'INVALID_ARGUMENT',
        'invalid argument `llm`: call() must return { messages, toolCalls, text }',
      )
    }
    usage.llmCalls++
    const hintMessage = hint ? [{ role: 'system', content: hint }] : []
    const sentToolTokens = toolTokens(tools, this.#format, this.#count)
    usage.promptTokens += 3 + messageTokens([...hintMessage, ...messages], this.#count) + sentToolTokens
    this.#sent.set(usage, (this.#sent.get(usage) ?? 0) + sentToolTokens)
    usage.reportedInputTokens += turn.usage?.inputTokens ?? 0
    usage.reportedOutputTokens += turn.usage?.outputTokens ?? 0
    return turn
  }

  #finish(usage: CascadeUsage, decision: 'local' | 'llm'): void {
    usage.tokensSaved = usage.baselinePromptTokens - usage.promptTokens
    // What the requests made would have cost with every tool: the rest of the saving is messages.
    const allToolTokens = toolTokens(this.#allSpecs(), this.#format, this.#count)
    const baselineCalls = usage.llmCalls + usage.llmCallsAvoided
    usage.toolTokensSaved = baselineCalls * allToolTokens - (this.#sent.get(usage) ?? 0)
    usage.messageTokensSaved = usage.tokensSaved - usage.toolTokensSaved
    const t = this.#totals
    t.runs++
    if (decision === 'local') t.local++
    else t.llm++
    for (const k of [
      'llmCalls',
      'llmCallsAvoided',
      'promptTokens',
      'baselinePromptTokens',
      'tokensSaved',
      'toolTokensSaved',
      'messageTokensSaved',
      'reportedInputTokens',
      'reportedOutputTokens',
      'routeMs',
    ] as const) {
      t[k] += usage[k]
    }
  }

  /** Tool-definition tokens sent in the calls of each run in flight. */
  readonly #sent = new WeakMap<CascadeUsage, number>()
}
