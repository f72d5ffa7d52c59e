/**
 * toolrouter: route agent requests to tools with a small attention model (the ToolController),
 * trained from examples. `route()` is synchronous and answers in microseconds on a CPU; it says
 * when it is unsure (`tool: null`) so the LLM can take over.
 *
 * @example
 * ```ts
 * import { Trainer, loadExamples, loadTools } from 'toolrouter'
 * const tools = await loadTools('data/demo/tools.json')
 * const router = await new Trainer({ tools }).fit(await loadExamples('data/demo/train.jsonl'))
 * router.route('will it rain in Oslo tomorrow?') // { tool: 'get_weather', confidence: 0.97, ... }
 * ```
 */
import Ajv, { type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type * as native from './native.js'
import { loadBinding } from './ts/binding'
import { ToolrouterError, type ToolrouterErrorCode } from './ts/errors'
import { nextStep, type WorkflowStep } from './ts/workflow'

export { ToolrouterError, type ToolrouterErrorCode } from './ts/errors'
export { SUPPORTED_PLATFORMS, currentPlatform } from './ts/binding'

/** The native addon (see `ts/binding.ts`): loaded once, with a clear error when no binary fits. */
const binding = loadBinding()

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

const CODES: ReadonlySet<string> = new Set<ToolrouterErrorCode>([
  'INVALID_ARGUMENT',
  'DATASET_INVALID',
  'TOOLS_INVALID',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'MODEL_VERSION',
  'IO',
  'ABORTED',
  'TRAINING_DIVERGED',
  'DEVICE_UNAVAILABLE',
  'INTERNAL',
])

/** Native errors arrive as `"CODE: message"`; split the code off. */
function toError(e: unknown, signal?: AbortSignal): ToolrouterError {
  if (e instanceof ToolrouterError) return e
  if (signal?.aborted) return new ToolrouterError('ABORTED', 'aborted', { cause: e })
  const text = e instanceof Error ? e.message : String(e)
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(text)
  if (m && CODES.has(m[1])) return new ToolrouterError(m[1] as ToolrouterErrorCode, m[2], { cause: e })
  if (isNapiArgumentError(e)) return new ToolrouterError('INVALID_ARGUMENT', text, { cause: e })
  return new ToolrouterError('INTERNAL', text, { cause: e })
}

/** napi's own argument conversion errors carry a status code instead of our prefix. */
function isNapiArgumentError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && code !== 'GenericFailure' && /Expected|InvalidArg/.test(code)
}

function call<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    throw toError(e)
  }
}

async function callAsync<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw new ToolrouterError('ABORTED', 'aborted before it started')
  try {
    return await fn()
  } catch (e) {
    throw toError(e, signal)
  }
}

function invalid(name: string, reason: string): ToolrouterError {
  return new ToolrouterError('INVALID_ARGUMENT', `invalid argument \`${name}\`: ${reason}`)
}

/** An options object: `undefined` or `null` are none; anything else but an object is misuse. */
function options<T extends object>(o: T | null | undefined, name: string): T {
  if (o === undefined || o === null) return {} as T
  if (typeof o !== 'object') throw invalid(name, 'expected an object')
  return o
}

function checkSignal(signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'expected an AbortSignal')
}

function checkTools(tools: unknown): void {
  if (!Array.isArray(tools) || tools.some((t) => typeof t !== 'object' || t === null)) {
    throw invalid('tools', 'expected an array of tool objects')
  }
}

function checkThreshold(t: unknown): void {
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) throw invalid('threshold', `${String(t)} is not a number in [0, 1]`)
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** A JSON Schema object describing a tool's arguments. */
export type JsonSchema = Record<string, unknown>

/** A tool the agent can call. OpenAI's `{ type: 'function', function: {...} }` form is accepted by `loadTools`. */
export interface ToolSpec {
  name: string
  description?: string
  parameters?: JsonSchema
}

/** An argument's place in the text, in Unicode code points, `[start, end)`. */
export interface Span {
  name: string
  start: number
  end: number
}

/** One labelled request. `tool: null` marks a request no tool serves (out of scope). */
export interface Example {
  text: string
  tool: string | null
  args?: Record<string, unknown>
  spans?: Span[]
}

/** Why a route is what it is. */
export type RouteReason = 'confident' | 'low_confidence' | 'out_of_scope'

export interface Alternative {
  tool: string
  confidence: number
}

/** The router's answer for one request. */
export interface Route {
  /** The tool to call, or `null` when the router abstains (let the LLM decide). */
  tool: string | null
  /**
   * Calibrated probability of the best label: of `tool`, of the best tool when the router
   * abstained on low confidence, or of "no tool" when the request is out of scope.
   */
  confidence: number
  /** The next best tools (the best ones when `tool` is null), most likely first. */
  alternatives: Alternative[]
  /** Arguments for the tool, as the user wrote them (an array when a name occurs twice). */
  args: Record<string, unknown>
  /** Where each argument was found in the text, in Unicode code points. */
  spans: Span[]
  /** True when `tool` is null. */
  abstained: boolean
  /** `low_confidence`: the best tool's confidence is under the threshold; `out_of_scope`: no tool serves the request. */
  reason: RouteReason
  /** Required arguments of the tool (its JSON Schema's `required`) that the request does not give. */
  missing: string[]
  /** Arguments the tool's JSON Schema rejects (checked with ajv). */
  invalid: string[]
  /**
   * A tool was chosen, nothing is missing and the arguments validate against its schema: the call
   * can run without the LLM. An incomplete call is for the LLM to finish.
   */
  complete: boolean
}

/** Options of {@link Router.route} and {@link Router.routeBatch}. */
export interface RouteOptions {
  /** Confidence threshold in [0, 1] for this call, instead of {@link Router.threshold}. */
  threshold?: number
}

/** Options of {@link Router.route} (one request) and {@link Router.next}. */
export interface RouteOneOptions extends RouteOptions {
  /**
   * Tools this call must not choose, by name: their probability is shared among the other labels
   * (renormalised), so the answer is another tool, out of scope, or an abstention. For what the
   * caller knows and the model cannot (a tool is down; {@link Router.next} uses it so that a
   * workflow does not finish before its first call). An unknown name is an `INVALID_ARGUMENT` error.
   */
  exclude?: readonly string[]
}

/** Training progress, reported at most ten times a second and at the end of every epoch. */
export type Progress = native.Progress

/** Compute device. `auto` picks a GPU when the build has one and one is present. */
export type Device = 'cpu' | 'cuda' | 'metal' | 'auto'

/**
 * Options of {@link Trainer}: the native `TrainOptions` (documented with their defaults in
 * `native.d.ts`, generated from the Rust side) plus the tools. Defaults were picked on validation
 * splits and work without tuning.
 */
export interface TrainerOptions extends Omit<native.TrainOptions, 'device' | 'architecture' | 'pretrained'> {
  /** `attention`: the ToolController; `gru`: the original prototype's encoder, kept as a baseline. @default 'attention' */
  architecture?: 'attention' | 'gru'
  /**
   * `minilm`: start from the static word table built from all-MiniLM-L6-v2 (compiled into the
   * addon, Apache-2.0) and its tokenizer, so words the examples never use still mean something;
   * `none`: learn the tokenizer and embeddings from the examples alone. `minilm` validated better
   * on SNIPS, ATIS and CLINC150 and much better on small training sets.
   * @default 'minilm'
   */
  pretrained?: 'minilm' | 'none'
  /** The tools to route to. @default the distinct tools named by the training examples, without schemas */
  tools?: ToolSpec[]
  /** @default 'cpu' */
  device?: Device
}

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Validation examples for early stopping; by default a stratified share of `train` is held out. */
  valid?: Example[]
  onProgress?: (p: Progress) => void
  /** Stops training between batches; the promise rejects with code `ABORTED`. */
  signal?: AbortSignal
  /**
   * Continue from this router instead of starting from zero: its tools, tokenizer, model shape
   * and weights are the starting point, tools new in `train` (or in the trainer's `tools`) grow
   * the output head, and the examples its model file keeps (a few per tool) are replayed beside
   * `train` so the old tools are not forgotten. Pass more old examples in `train` to replay more.
   * Shape options (`dModel`, `layers`, ...) are ignored: the model keeps `init`'s.
   * @example
   * ```ts
   * const next = await new Trainer().fit(newExamples, { init: router })
   * ```
   */
  init?: Router
}

export interface ToolMetrics {
  precision: number
  recall: number
  f1: number
  support: number
}

/** What {@link Router.evaluate} and `toolrouter eval --json` report. */
export interface Metrics {
  /** Number of examples. */
  n: number
  /** Examples whose tool is not null. */
  n_in_scope: number
  /**
   * Accuracy of the classifier's best label (no threshold) over examples whose tool is not
   * null; `accuracy`, `macro_f1`, `per_tool` and `confusions` all score the best label.
   */
  accuracy: number
  /** Accuracy over all examples (out-of-scope ones are right when the router returns null). */
  overall_accuracy: number
  /** Mean F1 over the tools present in the data. */
  macro_f1: number
  per_tool: Record<string, ToolMetrics>
  /** The most frequent errors. */
  confusions: { gold: string | null; predicted: string | null; count: number }[]
  /**
   * Present when the data has out-of-scope rows, at the threshold: the share of out-of-scope
   * requests refused, the share of refusals that were out of scope, and the in-scope accuracy
   * where an abstention counts as wrong (as in the CLINC150 paper).
   */
  oos_recall?: number | null
  oos_precision?: number | null
  in_scope_accuracy?: number | null
  /** The threshold the decisions were scored at. */
  threshold: number | null
  /** Share of all requests answered with a tool at the threshold. */
  coverage: number | null
  /** Share of those answers that are right. */
  selective_accuracy: number | null
  /** Expected calibration error (15 bins) of the best label's confidence, calibrated and raw. */
  ece: number | null
  ece_uncalibrated: number | null
  /** Mean negative log-likelihood of the gold label. */
  nll: number | null
  /** In-scope requests ranked by confidence: accuracy of the top 50/80/90/95% (keys "50", "80", "90", "95"). */
  selective_accuracy_at: Record<string, number> | null
  /** Largest share answerable at 99% / 99.5% selective accuracy (keys "99", "99.5"). */
  coverage_at: Record<string, number> | null
  /** Area under the risk-coverage curve (lower is better). */
  aurc: number | null
  /** Span-level micro F1 of the arguments (exact name and boundaries), when the model extracts arguments. */
  slot_f1?: number | null
  /** Right tool and every argument span exact. */
  frame_accuracy?: number | null
  /** Right tool and the typed `args` equal to the gold ones (converted through the same schema). */
  args_exact?: number | null
}

/** The model configuration stored in the file. */
export interface ModelConfig {
  architecture: string
  vocab_size: number
  d_model: number
  layers: number
  heads: number
  ff_mult: number
  max_tokens: number
  dropout: number
  n_features: number
  d_bag: number
  n_labels: number
  has_none: boolean
  /** Argument names the tagger knows. */
  arg_names: string[]
  /** Per tool (output order), indices into `arg_names`. */
  tool_args: number[][]
  /** The pretrained word table the token embeddings started from (`minilm`), or `''`. */
  pretrained: string
}

/** How a model was trained. */
export interface TrainingInfo {
  /** The weights are the mean of several epochs rather than one epoch's. */
  averaged: boolean
  examples: number
  valid_examples: number
  epochs_run: number
  best_epoch: number
  valid_accuracy: number | null
  valid_loss: number | null
  /** Micro F1 of the argument tags on the validation tokens; null when the model tags no arguments. */
  valid_tag_f1: number | null
  train_seconds: number
  warnings: string[]
  /** Examples replayed from the router training continued from ({@link FitOptions.init}); 0 for a fresh fit. */
  replayed: number
  calibration: Calibration
  /**
   * Training with a {@link TrainerOptions.teacher}: a router was also trained on the labels alone
   * and the one that validates better kept (`used`: the taught one). Null without a teacher.
   */
  teacher: { used: boolean; valid_labels: number; valid_teacher: number } | null
  /** Tools added with {@link Router.addTool} since training (their rows come from their text and examples); absent when none. */
  added?: string[]
}

/** What {@link Router.profile} reports: medians in µs per request. */
export interface RouteProfile {
  tokenize_us: number
  /** n-gram hashing, lookup and TF-IDF weights. */
  features_us: number
  forward_us: number
  /** Softmax, ranking and argument decoding. */
  decide_us: number
  tokens_mean: number
  /** FLOPs of one forward pass at the mean token count. */
  flops: number
  /** Kernels of the CPU fast path (`avx512`, `avx2+fma`, `portable`), or null when the forward is candle's. */
  isa: string | null
  /** The forward's arithmetic floor: its matrix products at the best single-core rate a plain product (this crate's tiled kernel, the `gemm` crate) reaches on their shapes. */
  floor_us: number | null
  gflops_kernel: number | null
  gflops_gemm_crate: number | null
  /** The rate of the products the forward runs (with AVX-512: a kernel over weights packed at load time). */
  gflops_forward: number | null
  /** The floor at the better of that rate and the plain products' (stricter than `floor_us` where the forward's kernel is faster). */
  floor_forward_us: number | null
}

/** Temperature scaling and the abstention threshold, fitted on the validation set. */
export interface Calibration {
  /** Logits are divided by this before the softmax: the validation log-loss's best, at least 1 (calibration softens, never sharpens). */
  temperature: number
  /** The router answers when the best tool's confidence is at least this. */
  threshold: number
  target_precision: number
  /** Whether the validation set reached `target_precision` at `threshold`. */
  reached: boolean
  /** Share of validation requests answered at `threshold`, and their precision. */
  valid_coverage: number | null
  valid_precision: number | null
}

// ---------------------------------------------------------------------------------------------
// Conversions at the native boundary
// ---------------------------------------------------------------------------------------------

function toNativeTool(t: ToolSpec): native.ToolSpec {
  return { name: t.name, description: t.description, parameters: t.parameters }
}

function fromNativeTool(t: native.ToolSpec): ToolSpec {
  return { name: t.name, description: t.description ?? '', parameters: (t.parameters ?? {}) as JsonSchema }
}

function toNativeExample(e: Example): native.Example {
  return { text: e.text, tool: e.tool ?? undefined, args: e.args, spans: e.spans }
}

function fromNativeExample(e: native.Example): Example {
  return {
    text: e.text,
    tool: e.tool ?? null,
    args: (e.args ?? {}) as Record<string, unknown>,
    spans: e.spans ?? [],
  }
}

/** One route in the compact form `route()` and `routeBatch` receive (see `crates/toolrouter-core/src/wire.rs`). */
type WireRoute = [
  tool: number | string | null,
  confidence: number,
  alternatives: (number | string)[],
  args: Record<string, unknown>,
  spans: (number | string)[],
  flags: number,
  missing: string[],
  invalid: string[],
]

/** A batch of routes in the compact form: tools and argument names are indices into its tables. */
interface WireBatch {
  tools: string[]
  names: string[]
  routes: WireRoute[]
}

const WIRE_REASONS: readonly RouteReason[] = ['confident', 'low_confidence', 'out_of_scope']

/** The route of one compact array; tools and argument names given as indices are read from the tables. */
function routeFromWire(w: WireRoute, tools: readonly string[], names: readonly string[]): Route {
  const [tool, confidence, alts, args, spanList, flags, missing, invalid] = w
  const name = (table: readonly string[], v: number | string): string => (typeof v === 'number' ? table[v] : v)
  const alternatives: Alternative[] = []
  for (let i = 0; i + 1 < alts.length; i += 2) {
    alternatives.push({ tool: name(tools, alts[i]), confidence: alts[i + 1] as number })
  }
  const spans: Span[] = []
  for (let i = 0; i + 2 < spanList.length; i += 3) {
    spans.push({ name: name(names, spanList[i]), start: spanList[i + 1] as number, end: spanList[i + 2] as number })
  }
  return {
    tool: tool === null ? null : name(tools, tool),
    confidence,
    alternatives,
    args,
    spans,
    abstained: (flags & 1) !== 0,
    reason: WIRE_REASONS[flags >> 2],
    missing,
    invalid,
    complete: (flags & 2) !== 0,
  }
}

/**
 * The routes of a batch from their compact JSON text: the same objects `route()` gives, built
 * here from arrays (less text than the routes as objects, and quicker to read).
 */
function routesFromWire(json: string): Route[] {
  const { tools, names, routes } = JSON.parse(json) as WireBatch
  return routes.map((w) => routeFromWire(w, tools, names))
}

/** One route from its compact JSON text (names as strings, no tables). */
function parseRoute(json: string): Route {
  return routeFromWire(JSON.parse(json) as WireRoute, [], [])
}

/**
 * Validates a route's arguments against its tool's JSON Schema with ajv (the Rust side has
 * typed them and checked `required`, types and enums; ajv adds the rest: formats, ranges,
 * patterns, nested schemas). Failures land in `invalid` / `missing` and clear `complete`.
 */
class ArgsValidator {
  // With the standard formats (email, date, uri, …): without them ajv ignores `format`.
  readonly #ajv = addFormats(new Ajv({ allErrors: true, strict: false }))
  readonly #compiled = new Map<string, ValidateFunction | null>()

  constructor(private readonly tools: () => ToolSpec[]) {}

  #validator(tool: string): ValidateFunction | null {
    let v = this.#compiled.get(tool)
    if (v === undefined) {
      const schema = this.tools().find((t) => t.name === tool)?.parameters
      try {
        v = schema && Object.keys(schema).length > 0 ? this.#ajv.compile(schema) : null
      } catch {
        // A schema ajv cannot compile is left to the Rust checks (it was accepted at load time).
        v = null
      }
      this.#compiled.set(tool, v)
    }
    return v
  }

  check(r: Route): Route {
    if (r.tool === null) return r
    const v = this.#validator(r.tool)
    if (v === null || v(r.args)) return r
    const invalid = new Set(r.invalid)
    const missing = new Set(r.missing)
    for (const e of v.errors ?? []) {
      const params = e.params as { missingProperty?: unknown; additionalProperty?: unknown }
      // `required`, and `dependencies` / `dependentRequired`, name the argument that is missing.
      if (typeof params.missingProperty === 'string') missing.add(params.missingProperty)
      else {
        // An error on the whole object (`anyOf`, `minProperties`, …) names no argument but an
        // extra one: the call is still incomplete.
        const name = e.instancePath.split('/')[1] ?? (typeof params.additionalProperty === 'string' ? params.additionalProperty : '')
        if (name !== '') invalid.add(name)
      }
    }
    return { ...r, invalid: [...invalid], missing: [...missing], complete: false }
  }
}

function checkExamples(examples: unknown, name: string): asserts examples is Example[] {
  if (!Array.isArray(examples)) throw invalid(name, 'expected an array of examples')
  examples.forEach((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw invalid(name, `example #${i}: expected an object`)
    const o = e as Record<string, unknown>
    if (typeof o.text !== 'string') throw invalid(name, `example #${i}: field \`text\`: expected a string`)
    if (o.tool !== null && typeof o.tool !== 'string')
      throw invalid(name, `example #${i}: field \`tool\`: expected a string or null`)
  })
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** Reads a tools JSON file: an array of `{ name, description, parameters }` (or OpenAI's function wrapper). */
export async function loadTools(path: string): Promise<ToolSpec[]> {
  if (typeof path !== 'string') throw invalid('path', 'expected a string')
  const tools = await callAsync(() => binding.loadTools(path))
  return tools.map(fromNativeTool)
}

/**
 * Reads a JSONL file of examples, one `{ text, tool, args?, spans? }` a line. With `tools`, every
 * example's tool must be one of them. Errors name the file, the line and the field.
 */
export async function loadExamples(path: string, opts: { tools?: ToolSpec[] } = {}): Promise<Example[]> {
  if (typeof path !== 'string') throw invalid('path', 'expected a string')
  const given = options(opts, 'opts').tools
  if (given !== undefined) checkTools(given)
  const tools = given?.map(toNativeTool)
  const ex = await callAsync(() => binding.loadExamples(path, tools))
  return ex.map(fromNativeExample)
}

// ---------------------------------------------------------------------------------------------
// Router
// ---------------------------------------------------------------------------------------------

let wrapNative: (n: native.NativeRouter) => Router
let nativeOf: (r: Router) => native.NativeRouter

/** A trained router. Safe to share; only {@link Router.addTool} and {@link Router.removeTool} change it. */
export class Router {
  readonly #native: native.NativeRouter
  #tools: ToolSpec[] | undefined
  #threshold: number | undefined
  #args = new ArgsValidator(() => this.tools)

  static {
    wrapNative = (n) => new Router(n)
    nativeOf = (r) => r.#native
  }

  private constructor(handle: native.NativeRouter) {
    this.#native = handle
  }

  /** Loads a model file written by {@link Router.save}. */
  static async load(path: string, opts: { device?: Device } = {}): Promise<Router> {
    if (typeof path !== 'string') throw invalid('path', 'expected a string')
    const { device } = options(opts, 'opts')
    const n = await callAsync(() => binding.loadRouter(path, device))
    return wrapNative(n)
  }

  /** Writes the model to one file, atomically (a temporary file renamed over the target). */
  async save(path: string): Promise<void> {
    if (typeof path !== 'string') throw invalid('path', 'expected a string')
    await callAsync(() => this.#native.save(path))
  }

  /** Routes one request, synchronously: the fast path. */
  route(text: string, opts?: RouteOneOptions): Route {
    if (typeof text !== 'string') throw invalid('text', 'expected a string')
    const t = opts?.threshold ?? this.#threshold
    if (opts?.threshold !== undefined) checkThreshold(opts.threshold)
    const exclude = opts?.exclude
    if (exclude !== undefined && (!Array.isArray(exclude) || exclude.some((x) => typeof x !== 'string'))) {
      throw invalid('exclude', 'expected an array of tool names')
    }
    return this.#args.check(parseRoute(call(() => this.#native.routeWire(text, t, exclude === undefined ? undefined : [...exclude]))))
  }

  /**
   * The next step of a multi-step workflow (a router trained on {@link examplesFromWorkflows}): the
   * next tool with its arguments, taken from the request or from earlier results, `tool: 'finish'`
   * when the work is done, or null when unsure. Spans refer to `renderState(request, steps)`.
   * @example
   * ```ts
   * router.next('refund order A123', [{ tool: 'lookup_order', args: { order_id: 'A123' }, result: { amount: 40 } }])
   * // { tool: 'refund_order', args: { order_id: 'A123', amount: 40 }, complete: true, ... }
   * ```
   */
  next(request: string, steps: readonly WorkflowStep[] = [], opts?: RouteOneOptions): Route {
    return nextStep(this, request, steps, opts)
  }

  /**
   * Routes many requests off the JS thread, split over `threads` threads (default: one per
   * core; batches under 64 stay on one).
   */
  async routeBatch(texts: string[], opts: RouteOptions & { signal?: AbortSignal; threads?: number } = {}): Promise<Route[]> {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw invalid('texts', 'expected an array of strings')
    }
    opts = options(opts, 'opts')
    if (opts.threshold !== undefined) checkThreshold(opts.threshold)
    checkSignal(opts.signal)
    const { threads } = opts
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
      throw invalid('threads', `expected an integer from 1 to 1024, got ${String(threads)}`)
    }
    const t = opts.threshold ?? this.#threshold
    // The schemas of the tools the batch starts with: an addTool while it runs replaces #args.
    const args = this.#args
    const json = await callAsync(() => this.#native.routeBatchWire(texts, t, threads, opts.signal), opts.signal)
    return routesFromWire(json).map((r) => args.check(r))
  }

  /** Routes every example and scores the classifier, its calibration and its decisions at the threshold. */
  async evaluate(examples: Example[], opts: RouteOptions = {}): Promise<Metrics> {
    checkExamples(examples, 'examples')
    opts = options(opts, 'opts')
    if (opts.threshold !== undefined) checkThreshold(opts.threshold)
    const t = opts.threshold ?? this.#threshold
    const json = await callAsync(() => this.#native.evaluate(examples.map(toNativeExample), t))
    return JSON.parse(json) as Metrics
  }

  /**
   * Where the time of `route()` goes, medians in µs over `texts` × `reps` (blocks the thread:
   * a diagnostic, used by `npm run bench`), with the forward pass's arithmetic floor.
   */
  profile(texts: string[], reps = 10): RouteProfile {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw invalid('texts', 'expected an array of strings')
    }
    if (!Number.isInteger(reps) || reps < 1) throw invalid('reps', 'expected a positive integer')
    return call(() => this.#native.profile(texts, reps)) as RouteProfile
  }

  /**
   * The confidence under which the router abstains (`reason: 'low_confidence'`). Chosen at fit
   * time on the validation set to reach `targetPrecision`; set it to override it for this
   * router (not saved with the model), or to `undefined` to go back to the fitted one.
   */
  get threshold(): number {
    return this.#threshold ?? this.#native.threshold
  }

  set threshold(value: number | undefined) {
    if (value !== undefined) checkThreshold(value)
    this.#threshold = value
  }

  /**
   * How far under "no argument" the tagger's margin for a span may be and the span still fill a
   * required argument that decoding left out, when its value fits the argument's type (README,
   * "Arguments"). `null`: a missing argument stays missing; `Infinity`: any span of its type fills
   * it. Not saved with the model. @default 1
   */
  get fillMargin(): number | null {
    return this.#native.fillMargin ?? null
  }

  set fillMargin(value: number | null) {
    if (value !== null && !(typeof value === 'number' && value >= 0)) {
      throw invalid('fillMargin', `${String(value)} is not a number ≥ 0 or null`)
    }
    call(() => this.#native.setFillMargin(value ?? undefined))
  }

  /**
   * Adds a tool without retraining, in a few milliseconds: its output row is made from its name,
   * description and argument names, and refined by a few example requests when given. An added
   * tool of the same name is replaced; a tool the router was trained on keeps its trained row (its
   * spec, description and schema, is replaced; the examples are kept for the next `fit` with
   * `init`): remove it first to rebuild its row from its text. At most 32 examples per tool are
   * kept in the model file. Routers trained with `toolSpace: true` learned to do this; others
   * fall back to a linear map fitted on their tools (much less accurate, see docs/eval-tools.md).
   * A `routeBatch`, `evaluate` or `save` already running keeps the tools it started with.
   * @example
   * ```ts
   * router.addTool({ name: 'book_flight', description: 'Books a plane ticket to a city' }, ['fly me to Oslo'])
   * router.route('get me a flight to Rome').tool // 'book_flight'
   * ```
   */
  addTool(spec: ToolSpec, examples: readonly string[] = []): void {
    if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string') {
      throw invalid('tool', 'expected a tool spec with a string `name`')
    }
    if (!Array.isArray(examples) || examples.some((e) => typeof e !== 'string')) {
      throw invalid('examples', 'expected an array of strings')
    }
    call(() => this.#native.addTool(toNativeTool(spec), [...examples]))
    this.#toolsChanged()
  }

  /** Removes a tool; `INVALID_ARGUMENT` when there is no such tool or it is the last one. */
  removeTool(name: string): void {
    if (typeof name !== 'string') throw invalid('name', 'expected a string')
    call(() => this.#native.removeTool(name))
    this.#toolsChanged()
  }

  #toolsChanged(): void {
    this.#tools = undefined
    this.#args = new ArgsValidator(() => this.tools)
  }

  /** The tools, in the order of the model's outputs. */
  get tools(): ToolSpec[] {
    this.#tools ??= this.#native.tools.map(fromNativeTool)
    return this.#tools.map((t) => ({ ...t }))
  }

  get config(): ModelConfig {
    return this.#native.config as ModelConfig
  }

  get training(): TrainingInfo {
    return this.#native.training as TrainingInfo
  }
}

// ---------------------------------------------------------------------------------------------
// Trainer
// ---------------------------------------------------------------------------------------------

/** Trains routers. */
export class Trainer {
  readonly options: Readonly<TrainerOptions>

  constructor(options: TrainerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalid('options', 'expected an object')
    this.options = { ...options }
  }

  /**
   * Trains a router on `train` off the JS thread.
   * @example
   * ```ts
   * const router = await new Trainer({ tools, seed: 1 }).fit(train, { onProgress: (p) => console.log(p.epoch, p.loss) })
   * ```
   */
  async fit(train: Example[], opts: FitOptions = {}): Promise<Router> {
    checkOptions(this.options)
    checkExamples(train, 'train')
    opts = options(opts, 'opts')
    if (opts.valid !== undefined) checkExamples(opts.valid, 'valid')
    const { init } = opts
    if (init !== undefined && !(init instanceof Router)) throw invalid('init', 'expected a Router')
    const { tools: given, ...rest } = this.options
    const tools = given ?? inferTools(train, init)
    const { onProgress, signal } = opts
    if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('onProgress', 'expected a function')
    checkSignal(signal)
    const cb = onProgress
      ? (p: Progress) => {
          try {
            // An async callback's rejection is swallowed too (unhandled, it ended the process).
            const ret: unknown = onProgress(p)
            if (ret instanceof Promise) ret.catch(() => {})
          } catch {
            // A throwing progress callback must not take the training down with it.
          }
        }
      : undefined
    try {
      const n = await callAsync(
        () =>
          binding.train(
            tools.map(toNativeTool),
            train.map(toNativeExample),
            opts.valid?.map(toNativeExample),
            rest,
            cb,
            signal,
            init === undefined ? undefined : nativeOf(init),
          ),
        signal,
      )
      return wrapNative(n)
    } finally {
      // Progress calls queued from the worker thread land after the promise settles; let them
      // run first, so no event reaches the caller after `fit` has resolved or rejected.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

const COUNT_OPTIONS = ['dModel', 'layers', 'heads', 'maxTokens', 'vocabSize', 'epochs', 'patience', 'batchSize', 'seed'] as const
const NUMBER_OPTIONS = [
  'dropout',
  'lr',
  'labelSmoothing',
  'featureDropout',
  'tokenDropout',
  'validFraction',
  'argWeight',
  'valueSwap',
  'valueSwapAny',
  'repeatedArgShare',
  'tagWeight',
  'targetPrecision',
  'toolSpaceMargin',
] as const

/** Checks what N-API would otherwise convert silently (-1 as a u32 is 4294967295 epochs). */
function checkOptions(o: TrainerOptions): void {
  for (const k of COUNT_OPTIONS) {
    const v: unknown = o[k]
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw invalid(k, `expected a non-negative integer, got ${String(v)}`)
    }
  }
  for (const k of NUMBER_OPTIONS) {
    const v: unknown = o[k]
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) {
      throw invalid(k, `expected a finite number, got ${String(v)}`)
    }
  }
  for (const k of ['ngrams', 'wordShapes', 'average', 'freezePretrained', 'toolSpace', 'valueSwapRepeated'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw invalid(k, 'expected a boolean')
  }
  if (o.device !== undefined && typeof o.device !== 'string') throw invalid('device', 'expected a string')
  if (o.tools !== undefined) checkTools(o.tools)
  if (o.architecture !== undefined && o.architecture !== 'attention' && o.architecture !== 'gru') {
    throw invalid('architecture', `expected 'attention' or 'gru', got ${String(o.architecture)}`)
  }
  if (o.pretrained !== undefined && o.pretrained !== 'minilm' && o.pretrained !== 'none') {
    throw invalid('pretrained', `expected 'minilm' or 'none', got ${String(o.pretrained)}`)
  }
  if (o.gumbel !== undefined) {
    const g: unknown = o.gumbel
    const ok = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0
    if (typeof g !== 'object' || g === null || !ok((g as { tau?: unknown }).tau)) {
      throw invalid('gumbel', 'expected { tau: number > 0, anneal?: number > 0 }')
    }
    const anneal = (g as { anneal?: unknown }).anneal
    if (anneal !== undefined && !ok(anneal)) throw invalid('gumbel.anneal', 'expected a number > 0')
  }
  if (o.teacher !== undefined) {
    const d: unknown = o.teacher
    if (typeof d !== 'object' || d === null || typeof (d as { dir?: unknown }).dir !== 'string') {
      throw invalid('teacher', "expected { dir: string (the teacher's folder), weight?, augment?, augmentLabelWeight?, softWeight? }")
    }
    const r = d as Record<string, unknown>
    for (const k of ['weight', 'augmentLabelWeight', 'softWeight'] as const) {
      const v = r[k]
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
        throw invalid(`teacher.${k}`, `expected a finite number >= 0, got ${String(v)}`)
      }
    }
    const a = r.augment
    if (a !== undefined && !(typeof a === 'number' && Number.isInteger(a) && a >= 0 && a <= 64)) {
      throw invalid('teacher.augment', `expected an integer from 0 to 64, got ${String(a)}`)
    }
  }
}

/** The tools `train` names (without schemas); with `init`, only those it does not know. */
function inferTools(train: Example[], init?: Router): ToolSpec[] {
  const known = new Set(init?.tools.map((t) => t.name) ?? [])
  const names = [...new Set(train.map((e) => e.tool).filter((t): t is string => t !== null && !known.has(t)))]
  if (names.length === 0 && init === undefined) throw invalid('train', 'no example names a tool')
  return names.map((name) => ({ name, description: '', parameters: { type: 'object', properties: {} } }))
}

// ---------------------------------------------------------------------------------------------
// In front of the LLM: synthetic history, the cascade, adapters, traces, MCP, token counts
// ---------------------------------------------------------------------------------------------

export {
  newToolCallId,
  toSyntheticHistory,
  type AiSdkAssistantMessage,
  type AiSdkTextPart,
  type AiSdkToolCallPart,
  type AiSdkToolMessage,
  type AiSdkToolResultOutput,
  type AiSdkToolResultPart,
  type AnthropicAssistantMessage,
  type AnthropicTextBlock,
  type AnthropicToolResultBlock,
  type AnthropicToolResultMessage,
  type AnthropicToolUseBlock,
  type CascadeMessage,
  type CascadeMessageMap,
  type HistoryFormat,
  type JsonValue,
  type OpenAIAssistantMessage,
  type OpenAIFunctionToolCall,
  type OpenAIResponsesAssistantMessage,
  type OpenAIResponsesFunctionCall,
  type OpenAIResponsesFunctionCallOutput,
  type OpenAIToolMessage,
  type SyntheticHistoryMap,
  type ToolCall,
} from './ts/history'
export {
  Cascade,
  lastUserText,
  type CascadeLlm,
  type CascadeOptions,
  type CascadeRecord,
  type CascadeResult,
  type CascadeStats,
  type CascadeUsage,
  type LlmRequest,
  type LlmToolCall,
  type LlmTurn,
  type RunOptions,
  type ToolContext,
  type ToolExecute,
  type ToolExecutors,
} from './ts/cascade'
export {
  aiSdk,
  aiSdkTools,
  anthropicMessages,
  openaiChat,
  type AiSdkOptions,
  type AiSdkTool,
  type AnthropicClient,
  type AnthropicOptions,
  type OpenAIChatClient,
  type OpenAIChatOptions,
} from './ts/adapters'
export {
  examplesFromTraces,
  locateSpans,
  readTraces,
  type TraceFormat,
  type TracesOptions,
  type TracesResult,
} from './ts/traces'
export { mcpTools, toolsFromMcp, type McpClient } from './ts/mcp'
export {
  countTokens,
  messageTokens,
  promptTokens,
  toolDefinitions,
  toolTokens,
  type AnthropicTool,
  type OpenAIChatTool,
  type OpenAIResponsesTool,
  type TokenCounter,
  type ToolDefinitionMap,
} from './ts/tokens'
export {
  examplesFromWorkflows,
  FINISH,
  FINISH_LABEL,
  FINISH_TOOL,
  loadWorkflows,
  nextStep,
  numberFacts,
  parseWorkflows,
  renderResult,
  renderState,
  runChain,
  workflowsFromTraces,
  workflowTools,
  WORKFLOW_TRAINER_OPTIONS,
  type ChainHandoverReason,
  type ChainResult,
  type ChainTool,
  type Handover,
  type RunChainOptions,
  type Workflow,
  type WorkflowStep,
  type WorkflowTraceFormat,
} from './ts/workflow'
