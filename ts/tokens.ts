/**
 * Token counts of LLM requests, for the cascade's `usage`: the tool definitions as each provider
 * receives them and the messages, counted with OpenAI's `o200k_base` encoding (gpt-tokenizer, pure
 * JS, loaded on first use). For Anthropic and other providers the count is an estimate with the same
 * encoding; pass your own counter to be exact.
 *
 * @example
 * ```ts
 * import { countTokens, promptTokens } from 'toolrouter'
 * countTokens('will it rain in Oslo tomorrow?') // 8
 * promptTokens({ messages, tools: router.tools, format: 'openai' })
 * ```
 */
import type { ToolSpec } from '../index.js'
import type { HistoryFormat } from './history'

/** Counts the tokens of a text. */
export type TokenCounter = (text: string) => number

/** The part of gpt-tokenizer's `o200k_base` module used here. */
let o200k: { countTokens(text: string): number } | undefined

/**
 * Tokens of `text` in OpenAI's `o200k_base` encoding (GPT-4o, GPT-4.1, GPT-5, o-series).
 * @example
 * ```ts
 * countTokens('hello world') // 2
 * ```
 */
export function countTokens(text: string): number {
  // Loaded on first use: the encoding's ranks are a few MB that users without a cascade never need.
  o200k ??= require('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens(text: string): number }
  return o200k.countTokens(text)
}

/** OpenAI Chat Completions' (and the AI SDK's) form of a tool definition. */
export interface OpenAIChatTool {
  type: 'function'
  function: { name: string; description?: string; parameters: Record<string, unknown> }
}

/** OpenAI Responses' form of a tool definition. */
export interface OpenAIResponsesTool {
  type: 'function'
  name: string
  description?: string
  parameters: Record<string, unknown>
  strict: boolean
}

/** Anthropic Messages' form of a tool definition. */
export interface AnthropicTool {
  name: string
  description?: string
  input_schema: { type: 'object'; [key: string]: unknown }
}

/** What {@link toolDefinitions} returns for each format. */
export interface ToolDefinitionMap {
  openai: OpenAIChatTool
  'openai-responses': OpenAIResponsesTool
  anthropic: AnthropicTool
  'ai-sdk': OpenAIChatTool
}

function parameters(t: ToolSpec): Record<string, unknown> {
  const p = t.parameters ?? {}
  return Object.keys(p).length === 0 ? { type: 'object', properties: {} } : p
}

/**
 * Tool specs as a provider's request carries them (`tools` of the request body). The AI SDK's
 * providers send OpenAI's form, which is what `ai-sdk` gives.
 * @example
 * ```ts
 * await openai.chat.completions.create({ model, messages, tools: toolDefinitions(router.tools, 'openai') })
 * ```
 */
export function toolDefinitions<F extends HistoryFormat>(
  tools: readonly ToolSpec[],
  format: F,
): ToolDefinitionMap[F][] {
  const f: HistoryFormat = format
  const describe = (t: ToolSpec): { description?: string } => (t.description ? { description: t.description } : {})
  switch (f) {
    case 'anthropic':
      return tools.map((t) => ({
        name: t.name,
        ...describe(t),
        input_schema: { ...parameters(t), type: 'object' as const },
      })) as ToolDefinitionMap[F][]
    case 'openai-responses':
      return tools.map((t) => ({
        type: 'function' as const,
        name: t.name,
        ...describe(t),
        parameters: parameters(t),
        strict: false,
      })) as ToolDefinitionMap[F][]
    default:
      return tools.map((t) => ({
        type: 'function' as const,
        function: { name: t.name, ...describe(t), parameters: parameters(t) },
      })) as ToolDefinitionMap[F][]
  }
}

/**
 * Tokens of tool definitions: the JSON of each one as the provider receives it, plus OpenAI's
 * per-definition overhead. 0 for no tools.
 * @default count {@link countTokens} (o200k_base)
 * @example
 * ```ts
 * toolTokens(router.tools, 'openai') // 1377 for the 14 demo tools
 * ```
 */
export function toolTokens(
  tools: readonly ToolSpec[],
  format: HistoryFormat,
  count: TokenCounter = countTokens,
): number {
  if (tools.length === 0) return 0
  // OpenAI wraps the definitions in a few fixed tokens of its own; 9 per definition is the overhead
  // gpt-tokenizer's function-calling estimate uses.
  return toolDefinitions(tools, format).reduce((n, t) => n + 9 + count(JSON.stringify(t)), 0)
}

/** Fields that carry images, audio or files, never text. */
const BINARY_KEYS = new Set(['data', 'file_data', 'image'])

/**
 * The text of a message for counting: its string leaves, structured arguments as JSON. Images,
 * audio and files (base64 or bytes) are not text and count nothing: a 300 KB image counted as
 * text was 270 000 tokens, and it is in both the baseline and what was sent.
 */
function messageText(value: unknown, key = ''): string {
  if (typeof value === 'string') {
    if (key === 'role' || key === 'type') return ''
    if (BINARY_KEYS.has(key) || /^data:[^,]*;base64,/.test(value)) return ''
    return value
  }
  // Tool arguments and AI SDK json outputs (objects, arrays, numbers, booleans): sent as JSON.
  if ((key === 'input' || key === 'value') && value !== undefined) return JSON.stringify(value) ?? ''
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return ''
  const parts = Array.isArray(value)
    ? value.map((v) => messageText(v))
    : Object.entries(value).map(([k, v]) => messageText(v, k))
  return parts.filter((p) => p !== '').join('\n')
}

/**
 * Tokens of a list of messages: each message's text (tool calls and results included) plus
 * OpenAI's 3 tokens of framing per message.
 * @default count {@link countTokens} (o200k_base)
 * @example
 * ```ts
 * messageTokens([{ role: 'user', content: 'will it rain in Oslo tomorrow?' }]) // 12
 * ```
 */
export function messageTokens(messages: readonly unknown[], count: TokenCounter = countTokens): number {
  return messages.reduce<number>((n, m) => n + 3 + count(messageText(m)), 0)
}

/**
 * Prompt tokens of one request: messages, tool definitions and the 3 tokens that prime the reply.
 * @default count {@link countTokens} (o200k_base)
 * @example
 * ```ts
 * promptTokens({ messages, tools: router.tools, format: 'openai' })
 * ```
 */
export function promptTokens(request: {
  messages: readonly unknown[]
  tools?: readonly ToolSpec[]
  format: HistoryFormat
  count?: TokenCounter
}): number {
  const count = request.count ?? countTokens
  return 3 + messageTokens(request.messages, count) + toolTokens(request.tools ?? [], request.format, count)
}
