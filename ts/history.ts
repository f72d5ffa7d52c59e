/**
 * Synthetic history: the messages an LLM would itself have produced (its tool call) and received
 * (the tool's result), in the wire shapes of OpenAI Chat Completions, OpenAI Responses, Anthropic
 * Messages and the Vercel AI SDK. The types here are structural copies of the SDKs' own, so the
 * output assigns to `OpenAI.ChatCompletionMessageParam[]`, `OpenAI.Responses.ResponseInputItem[]`,
 * `Anthropic.MessageParam[]` and the AI SDK's `ModelMessage[]` without toolrouter depending on the
 * SDKs.
 *
 * @example
 * ```ts
 * import { toSyntheticHistory } from 'toolrouter'
 * const history = toSyntheticHistory({ tool: 'get_weather', args: { city: 'Oslo' } }, { temp_c: 4 }, 'openai')
 * await openai.chat.completions.create({ model, messages: [...messages, ...history] })
 * ```
 */
import { randomBytes } from 'node:crypto'

import { ToolrouterError } from './errors'

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** A JSON value: what a tool result becomes on the wire. */
export type JsonValue = null | string | number | boolean | JsonValue[] | { [key: string]: JsonValue }

/** The message formats toolrouter reads and writes. */
export type HistoryFormat = 'openai' | 'openai-responses' | 'anthropic' | 'ai-sdk'

/** The formats, in a fixed order (for validation and help texts). */
export const HISTORY_FORMATS: readonly HistoryFormat[] = ['openai', 'openai-responses', 'anthropic', 'ai-sdk']

/** A tool call: the tool's name, its arguments and, optionally, the call id to use. */
export interface ToolCall {
  tool: string
  args: Record<string, unknown>
  /** The call id. @default a fresh id in the provider's style (`call_…`, `toolu_01…`) */
  id?: string
}

/** OpenAI Chat Completions: a function tool call inside an assistant message. */
export interface OpenAIFunctionToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

/** OpenAI Chat Completions: an assistant message (text and/or tool calls). */
export interface OpenAIAssistantMessage {
  role: 'assistant'
  content: string | null
  tool_calls?: OpenAIFunctionToolCall[]
}

/** OpenAI Chat Completions: a tool result. */
export interface OpenAIToolMessage {
  role: 'tool'
  tool_call_id: string
  content: string
}

/** OpenAI Responses: a `function_call` input item. */
export interface OpenAIResponsesFunctionCall {
  type: 'function_call'
  call_id: string
  name: string
  arguments: string
}

/** OpenAI Responses: a `function_call_output` input item. */
export interface OpenAIResponsesFunctionCallOutput {
  type: 'function_call_output'
  call_id: string
  output: string
}

/** OpenAI Responses: an assistant text message as an input item. */
export interface OpenAIResponsesAssistantMessage {
  type: 'message'
  role: 'assistant'
  content: string
}

/** Anthropic Messages: a `text` block. */
export interface AnthropicTextBlock {
  type: 'text'
  text: string
}

/** Anthropic Messages: a `tool_use` block. */
export interface AnthropicToolUseBlock {
  type: 'tool_use'
  id: string
  name: string
  input: Record<string, unknown>
}

/** Anthropic Messages: a `tool_result` block. */
export interface AnthropicToolResultBlock {
  type: 'tool_result'
  tool_use_id: string
  content: string
  is_error?: boolean
}

/** Anthropic Messages: an assistant message (text and/or tool_use blocks). */
export interface AnthropicAssistantMessage {
  role: 'assistant'
  content: Array<AnthropicTextBlock | AnthropicToolUseBlock>
}

/** Anthropic Messages: the user message that carries tool results. */
export interface AnthropicToolResultMessage {
  role: 'user'
  content: AnthropicToolResultBlock[]
}

/** AI SDK: a `text` part. */
export interface AiSdkTextPart {
  type: 'text'
  text: string
}

/** AI SDK: a `tool-call` part. */
export interface AiSdkToolCallPart {
  type: 'tool-call'
  toolCallId: string
  toolName: string
  input: Record<string, unknown>
}

/** AI SDK: the `output` of a `tool-result` part. */
export type AiSdkToolResultOutput =
  { type: 'text'; value: string } | { type: 'json'; value: JsonValue } | { type: 'error-text'; value: string }

/** AI SDK: a `tool-result` part. */
export interface AiSdkToolResultPart {
  type: 'tool-result'
  toolCallId: string
  toolName: string
  output: AiSdkToolResultOutput
}

/** AI SDK (`ModelMessage`): an assistant message. */
export interface AiSdkAssistantMessage {
  role: 'assistant'
  content: string | Array<AiSdkTextPart | AiSdkToolCallPart>
}

/** AI SDK (`ModelMessage`): a tool message. */
export interface AiSdkToolMessage {
  role: 'tool'
  content: AiSdkToolResultPart[]
}

/** What {@link toSyntheticHistory} returns for each format: the call, then its result. */
export interface SyntheticHistoryMap {
  openai: [OpenAIAssistantMessage & { tool_calls: OpenAIFunctionToolCall[] }, OpenAIToolMessage]
  'openai-responses': [OpenAIResponsesFunctionCall, OpenAIResponsesFunctionCallOutput]
  anthropic: [AnthropicAssistantMessage & { content: AnthropicToolUseBlock[] }, AnthropicToolResultMessage]
  'ai-sdk': [AiSdkAssistantMessage & { content: AiSdkToolCallPart[] }, AiSdkToolMessage]
}

/**
 * The messages toolrouter itself appends to a conversation of format `F`: synthetic history, the
 * LLM's own messages (as the adapters convert them) and tool results.
 */
export interface CascadeMessageMap {
  openai: OpenAIAssistantMessage | OpenAIToolMessage
  'openai-responses': OpenAIResponsesFunctionCall | OpenAIResponsesFunctionCallOutput | OpenAIResponsesAssistantMessage
  anthropic: AnthropicAssistantMessage | AnthropicToolResultMessage
  'ai-sdk': AiSdkAssistantMessage | AiSdkToolMessage
}

/** One message toolrouter appends to a conversation of format `F`. */
export type CascadeMessage<F extends HistoryFormat> = CascadeMessageMap[F]

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function base62(n: number): string {
  let out = ''
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
      if (b < 248 && out.length < n) out += BASE62[b % 62]
    }
  }
  return out
}

/**
 * A fresh tool call id in the provider's style: `call_` + 24 alphanumerics for OpenAI (both APIs)
 * and the AI SDK, `toolu_01` + 22 base62 characters for Anthropic.
 * @example
 * ```ts
 * newToolCallId('anthropic') // 'toolu_01A09q90qw90lq917835lq9'
 * ```
 */
export function newToolCallId(format: HistoryFormat): string {
  checkFormat(format)
  return format === 'anthropic' ? `toolu_01${base62(22)}` : `call_${base62(24)}`
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

function invalid(name: string, reason: string): ToolrouterError {
  return new ToolrouterError('INVALID_ARGUMENT', `invalid argument \`${name}\`: ${reason}`)
}

export function checkFormat(format: unknown, name = 'format'): asserts format is HistoryFormat {
  if (!HISTORY_FORMATS.includes(format as HistoryFormat)) {
    throw invalid(name, `expected one of ${HISTORY_FORMATS.map((f) => `'${f}'`).join(', ')}, got ${String(format)}`)
  }
}

/** BigInts (database rows) as numbers when exact, else as decimal strings. */
function bigints(_key: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
}

/** JSON text of a value (a function or symbol, like `undefined`, is `null`); a cycle is an `INVALID_ARGUMENT`. */
function json(value: unknown, name: string): string {
  try {
    return (JSON.stringify(value, bigints) as string | undefined) ?? 'null'
  } catch (e) {
    throw new ToolrouterError('INVALID_ARGUMENT', `invalid argument \`${name}\`: not JSON-serialisable: ${String(e)}`, {
      cause: e,
    })
  }
}

/** A tool result as text: strings as they are, anything else as JSON (`undefined` is `null`). */
export function resultText(result: unknown): string {
  return typeof result === 'string' ? result : json(result, 'result')
}

function resultOutput(result: unknown): AiSdkToolResultOutput {
  if (typeof result === 'string') return { type: 'text', value: result }
  return { type: 'json', value: JSON.parse(json(result, 'result')) as JsonValue }
}

function checkCall(call: unknown): asserts call is ToolCall {
  if (typeof call !== 'object' || call === null) throw invalid('call', 'expected { tool, args, id? }')
  const c = call as Record<string, unknown>
  if (typeof c.tool !== 'string' || c.tool === '') throw invalid('call.tool', 'expected a non-empty string')
  if (typeof c.args !== 'object' || c.args === null || Array.isArray(c.args)) {
    throw invalid('call.args', 'expected an object')
  }
  if (c.id !== undefined && (typeof c.id !== 'string' || c.id === '')) {
    throw invalid('call.id', 'expected a non-empty string')
  }
}

/** A call with its id settled, and its arguments as a plain JSON object. */
interface SettledCall {
  id: string
  tool: string
  args: Record<string, unknown>
}

function settle(call: ToolCall, format: HistoryFormat): SettledCall {
  checkCall(call)
  const args = JSON.parse(json(call.args, 'call.args')) as Record<string, unknown>
  return { id: call.id ?? newToolCallId(format), tool: call.tool, args }
}

/** The assistant turn that makes `calls` (with optional text before them), in `format`. */
export function toolCallMessages<F extends HistoryFormat>(
  calls: readonly SettledCall[],
  format: F,
  text = '',
): CascadeMessage<F>[] {
  const f: HistoryFormat = format
  let out: CascadeMessage<HistoryFormat>[]
  switch (f) {
    case 'openai':
      out = [
        {
          role: 'assistant',
          content: text === '' ? null : text,
          tool_calls: calls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.tool, arguments: JSON.stringify(c.args) },
          })),
        },
      ]
      break
    case 'openai-responses':
      out = [
        ...(text === '' ? [] : [{ type: 'message' as const, role: 'assistant' as const, content: text }]),
        ...calls.map((c) => ({
          type: 'function_call' as const,
          call_id: c.id,
          name: c.tool,
          arguments: JSON.stringify(c.args),
        })),
      ]
      break
    case 'anthropic':
      out = [
        {
          role: 'assistant',
          content: [
            ...(text === '' ? [] : [{ type: 'text' as const, text }]),
            ...calls.map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.tool, input: c.args })),
          ],
        },
      ]
      break
    case 'ai-sdk':
      out = [
        {
          role: 'assistant',
          content: [
            ...(text === '' ? [] : [{ type: 'text' as const, text }]),
            ...calls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.id, toolName: c.tool, input: c.args })),
          ],
        },
      ]
      break
  }
  return out as CascadeMessage<F>[]
}

/** The results of `calls`, in `format`; an `Error` result is marked as an error where the format can say so. */
export function toolResultMessages<F extends HistoryFormat>(
  calls: readonly { id: string; tool: string }[],
  results: readonly unknown[],
  format: F,
): CascadeMessage<F>[] {
  const f: HistoryFormat = format
  const isError = (r: unknown): r is Error => r instanceof Error
  const text = (r: unknown): string => (isError(r) ? `Error: ${r.message}` : resultText(r))
  let out: CascadeMessage<HistoryFormat>[]
  switch (f) {
    case 'openai':
      out = calls.map((c, i) => ({ role: 'tool' as const, tool_call_id: c.id, content: text(results[i]) }))
      break
    case 'openai-responses':
      out = calls.map((c, i) => ({ type: 'function_call_output' as const, call_id: c.id, output: text(results[i]) }))
      break
    case 'anthropic':
      out = [
        {
          role: 'user',
          content: calls.map((c, i) => ({
            type: 'tool_result' as const,
            tool_use_id: c.id,
            content: text(results[i]),
            ...(isError(results[i]) ? { is_error: true } : {}),
          })),
        },
      ]
      break
    case 'ai-sdk':
      out = [
        {
          role: 'tool',
          content: calls.map((c, i) => {
            const r = results[i]
            const output: AiSdkToolResultOutput = isError(r)
              ? { type: 'error-text', value: r.message }
              : resultOutput(r)
            return { type: 'tool-result' as const, toolCallId: c.id, toolName: c.tool, output }
          }),
        },
      ]
      break
  }
  return out as CascadeMessage<F>[]
}

/**
 * The messages the LLM itself would have produced and received had it called the tool: its tool
 * call, then the tool's result, in the format of one API. Append them to the conversation and the
 * LLM reads the result as if it had made the call.
 *
 * - `openai` (Chat Completions): an assistant message with `tool_calls: [{ id, type: 'function',
 *   function: { name, arguments } }]` (`arguments` a JSON string), then `{ role: 'tool',
 *   tool_call_id, content }`.
 * - `openai-responses`: a `function_call` item and a `function_call_output` item with the same `call_id`.
 * - `anthropic` (Messages): an assistant message holding a `tool_use` block `{ id, name, input }`,
 *   then a user message holding the matching `tool_result` block.
 * - `ai-sdk` (`ModelMessage`): an assistant message with a `tool-call` part `{ toolCallId,
 *   toolName, input }`, then a `tool` message with the matching `tool-result` part.
 *
 * A string result is sent as it is; anything else as JSON (`undefined` as `null`; the AI SDK gets
 * `{ type: 'json', value }`).
 *
 * @param call The tool, its arguments and optionally the id. @default id: a fresh id in the provider's style
 * @param result What the tool returned.
 * @param format Which API's messages to write.
 * @example
 * ```ts
 * const history = toSyntheticHistory({ tool: 'get_weather', args: { city: 'Oslo' } }, { temp_c: 4 }, 'anthropic')
 * // [{ role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01…', name: 'get_weather', input: { city: 'Oslo' } }] },
 * //  { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01…', content: '{"temp_c":4}' }] }]
 * ```
 */
export function toSyntheticHistory<F extends HistoryFormat>(
  call: ToolCall,
  result: unknown,
  format: F,
): SyntheticHistoryMap[F] {
  checkFormat(format)
  const c = settle(call, format)
  return [
    ...toolCallMessages([c], format),
    ...toolResultMessages([c], [result], format),
  ] as unknown as SyntheticHistoryMap[F]
}

/** Settles a call's id and arguments (internal to the cascade). */
export function settleCall(call: ToolCall, format: HistoryFormat): SettledCall {
  return settle(call, format)
}
