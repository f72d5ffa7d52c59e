/**
 * Ready-made {@link CascadeLlm}s for the clients people already have: the OpenAI client (Chat
 * Completions), the Anthropic client (Messages) and the Vercel AI SDK (`generateText`). The clients
 * are typed structurally: toolrouter does not import the SDKs, so users of one need not install the
 * others.
 *
 * @example
 * ```ts
 * import OpenAI from 'openai'
 * import { Cascade, openaiChat } from 'toolrouter'
 * const cascade = new Cascade({ router, tools, llm: openaiChat(new OpenAI(), { model: 'gpt-4o-mini' }) })
 * ```
 */
import type { CascadeLlm, LlmRequest, LlmToolCall, LlmTurn, ToolExecutors } from './cascade'
import type {
  AiSdkAssistantMessage,
  AiSdkTextPart,
  AiSdkToolCallPart,
  AnthropicAssistantMessage,
  OpenAIAssistantMessage,
  OpenAIFunctionToolCall,
} from './history'
import { toolDefinitions } from './tokens'

/**
 * A call's arguments as an object, or `{}` and why they are not one (a reply cut off mid-JSON): the
 * cascade does not run such a call. No arguments at all (absent, `""`) are `{}`.
 */
function parseArgs(raw: unknown): Pick<LlmToolCall, 'args' | 'argsError'> {
  let args = raw
  if (args === undefined || args === null || (typeof args === 'string' && args.trim() === '')) return { args: {} }
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args) as unknown
    } catch {
      return { args: {}, argsError: 'the arguments are not valid JSON' }
    }
  }
  return typeof args === 'object' && args !== null && !Array.isArray(args)
    ? { args: args as Record<string, unknown> }
    : { args: {}, argsError: 'the arguments are not a JSON object' }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions
// ---------------------------------------------------------------------------------------------

/** The part of the OpenAI client the adapter uses (`new OpenAI()` fits). */
export interface OpenAIChatClient {
  chat: {
    completions: {
      create(
        body: { model: string; messages: unknown[]; tools?: unknown[]; tool_choice?: unknown },
        options?: { signal?: AbortSignal },
      ): PromiseLike<{
        choices: Array<{
          message: {
            content: string | null
            refusal?: string | null
            tool_calls?: Array<{ id: string; type: string; function?: { name: string; arguments: string } }>
          }
        }>
        usage?: { prompt_tokens: number; completion_tokens: number }
      }>
    }
  }
}

/** Options of {@link openaiChat}. */
export interface OpenAIChatOptions {
  /** The model, e.g. `gpt-4o-mini`. */
  model: string
  /** More request fields (`temperature`, `max_completion_tokens`, …). @default {} */
  params?: Record<string, unknown>
}

/**
 * A cascade LLM from the OpenAI client's Chat Completions. The shortlist goes in `tools`, the
 * router's hint in a system message at the end of the request (not kept in the conversation).
 * @example
 * ```ts
 * const llm = openaiChat(new OpenAI(), { model: 'gpt-4o-mini', params: { temperature: 0 } })
 * ```
 */
export function openaiChat(client: OpenAIChatClient, options: OpenAIChatOptions): CascadeLlm<'openai'> {
  return {
    format: 'openai',
    async call(req: LlmRequest<unknown>): Promise<LlmTurn<'openai'>> {
      const body = {
        ...options.params,
        model: options.model,
        messages: [...req.messages, ...(req.hint ? [{ role: 'system', content: req.hint }] : [])],
        ...(req.tools.length > 0 ? { tools: toolDefinitions(req.tools, 'openai'), tool_choice: req.toolChoice } : {}),
      }
      const completion = await client.chat.completions.create(body, req.signal ? { signal: req.signal } : undefined)
      const message = completion.choices[0]?.message ?? { content: null }
      const toolCalls: OpenAIFunctionToolCall[] = (message.tool_calls ?? [])
        .filter((c) => c.type === 'function' && c.function !== undefined)
        .map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.function?.name ?? '', arguments: c.function?.arguments ?? '{}' },
        }))
      // A refusal comes with no content; kept as the text, since a resent assistant message
      // without tool calls needs content.
      const text = message.content ?? message.refusal ?? ''
      const assistant: OpenAIAssistantMessage = {
        role: 'assistant',
        content: toolCalls.length > 0 ? message.content : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      }
      return {
        messages: [assistant],
        toolCalls: toolCalls.map((c) => ({ id: c.id, tool: c.function.name, ...parseArgs(c.function.arguments) })),
        text,
        usage: completion.usage
          ? { inputTokens: completion.usage.prompt_tokens, outputTokens: completion.usage.completion_tokens }
          : undefined,
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages
// ---------------------------------------------------------------------------------------------

/** The part of the Anthropic client the adapter uses (`new Anthropic()` fits). */
export interface AnthropicClient {
  messages: {
    create(
      body: {
        model: string
        max_tokens: number
        messages: unknown[]
        system?: unknown
        tools?: unknown[]
        tool_choice?: unknown
      },
      options?: { signal?: AbortSignal },
    ): PromiseLike<{
      content: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown }>
      usage?: { input_tokens: number; output_tokens: number }
    }>
  }
}

/** Options of {@link anthropicMessages}. */
export interface AnthropicOptions {
  /** The model, e.g. `claude-sonnet-4-5`. */
  model: string
  /** @default 1024 */
  maxTokens?: number
  /** Your system prompt; the router's hint is appended to it. @default none */
  system?: string
  /** More request fields (`temperature`, `metadata`, …). @default {} */
  params?: Record<string, unknown>
}

/**
 * A cascade LLM from the Anthropic client's Messages API. The shortlist goes in `tools`, the
 * router's hint after your `system` prompt. Thinking blocks of the answer are not kept.
 * @example
 * ```ts
 * const llm = anthropicMessages(new Anthropic(), { model: 'claude-sonnet-4-5', system: 'You are a helpful assistant.' })
 * ```
 */
export function anthropicMessages(client: AnthropicClient, options: AnthropicOptions): CascadeLlm<'anthropic'> {
  return {
    format: 'anthropic',
    async call(req: LlmRequest<unknown>): Promise<LlmTurn<'anthropic'>> {
      const system = [options.system, req.hint]
        .filter((s): s is string => typeof s === 'string' && s !== '')
        .join('\n\n')
      const body = {
        ...options.params,
        model: options.model,
        max_tokens: options.maxTokens ?? 1024,
        messages: [...req.messages],
        ...(system !== '' ? { system } : {}),
        ...(req.tools.length > 0
          ? { tools: toolDefinitions(req.tools, 'anthropic'), tool_choice: { type: req.toolChoice } }
          : {}),
      }
      const message = await client.messages.create(body, req.signal ? { signal: req.signal } : undefined)
      const content: AnthropicAssistantMessage['content'] = []
      const toolCalls: LlmToolCall[] = []
      for (const b of message.content) {
        if (b.type === 'text' && typeof b.text === 'string') content.push({ type: 'text', text: b.text })
        else if (b.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string') {
          const parsed = parseArgs(b.input)
          content.push({ type: 'tool_use', id: b.id, name: b.name, input: parsed.args })
          toolCalls.push({ id: b.id, tool: b.name, ...parsed })
        }
      }
      return {
        // Claude may answer a tool result with no content; an empty assistant message would make
        // the next request fail.
        messages: content.length > 0 ? [{ role: 'assistant', content }] : [],
        toolCalls,
        text: content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
        usage: message.usage
          ? { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens }
          : undefined,
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Vercel AI SDK
// ---------------------------------------------------------------------------------------------

/** An AI SDK tool as the adapter sees it (what `tool({ ... })` returns fits). */
export interface AiSdkTool {
  description?: string
  execute?: (input: never, options: { toolCallId: string; messages: never[]; abortSignal?: AbortSignal }) => unknown
}

/** Options of {@link aiSdk}. */
export interface AiSdkOptions {
  /** The AI SDK's `generateText` (v5). */
  generateText(options: {
    model: unknown
    messages?: unknown[]
    system?: string
    tools?: Record<string, unknown>
    toolChoice?: unknown
    abortSignal?: AbortSignal
  }): PromiseLike<{
    text: string
    toolCalls: Array<{ toolCallId: string; toolName: string; input: unknown }>
    response: { messages: unknown[] }
    usage: { inputTokens?: number; outputTokens?: number }
  }>
  /** The model, e.g. `openai('gpt-4o-mini')`. */
  model: unknown
  /** Your tools (`{ name: tool({ description, inputSchema, execute }) }`); the shortlist is picked from them. */
  tools: Record<string, AiSdkTool>
  /** Your system prompt; the router's hint is appended to it. @default none */
  system?: string
  /** More `generateText` options (`temperature`, `maxOutputTokens`, …). @default {} */
  params?: Record<string, unknown>
}

function aiSdkMessage(m: unknown): AiSdkAssistantMessage | undefined {
  const msg = m as { role?: unknown; content?: unknown } | null
  if (typeof msg !== 'object' || msg === null || msg.role !== 'assistant') return undefined
  if (typeof msg.content === 'string') return { role: 'assistant', content: msg.content }
  if (!Array.isArray(msg.content)) return undefined
  const content: Array<AiSdkTextPart | AiSdkToolCallPart> = []
  for (const p of msg.content as Array<Record<string, unknown>>) {
    if (p.type === 'text' && typeof p.text === 'string') content.push({ type: 'text', text: p.text })
    else if (p.type === 'tool-call' && typeof p.toolCallId === 'string' && typeof p.toolName === 'string') {
      content.push({ type: 'tool-call', toolCallId: p.toolCallId, toolName: p.toolName, input: parseArgs(p.input).args })
    }
  }
  return { role: 'assistant', content }
}

/**
 * A cascade LLM from the AI SDK's `generateText` and your tools. The shortlisted tools are passed
 * without their `execute` (the cascade runs the calls, through {@link aiSdkTools}), one step per call.
 * @example
 * ```ts
 * import { generateText, tool } from 'ai'
 * const tools = { get_weather: tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string() }), execute: weather }) }
 * const cascade = new Cascade({ router, tools: aiSdkTools(tools), llm: aiSdk({ generateText, model: openai('gpt-4o-mini'), tools }) })
 * ```
 */
export function aiSdk(options: AiSdkOptions): CascadeLlm<'ai-sdk'> {
  return {
    format: 'ai-sdk',
    async call(req: LlmRequest<unknown>): Promise<LlmTurn<'ai-sdk'>> {
      const system = [options.system, req.hint]
        .filter((s): s is string => typeof s === 'string' && s !== '')
        .join('\n\n')
      const tools: Record<string, unknown> = {}
      for (const spec of req.tools) {
        const t = Object.hasOwn(options.tools, spec.name) ? options.tools[spec.name] : undefined
        if (t !== undefined) tools[spec.name] = { ...t, execute: undefined }
      }
      const result = await options.generateText({
        ...options.params,
        model: options.model,
        messages: [...req.messages],
        ...(system !== '' ? { system } : {}),
        ...(Object.keys(tools).length > 0 ? { tools, toolChoice: req.toolChoice } : {}),
        ...(req.signal ? { abortSignal: req.signal } : {}),
      })
      const messages = result.response.messages
        .map(aiSdkMessage)
        .filter((m): m is AiSdkAssistantMessage => m !== undefined)
      return {
        messages,
        toolCalls: result.toolCalls.map((c) => ({ id: c.toolCallId, tool: c.toolName, ...parseArgs(c.input) })),
        text: result.text,
        usage: { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens },
      }
    },
  }
}

/**
 * The `execute` map of AI SDK tools, for {@link Cascade}'s `tools`.
 * @example
 * ```ts
 * new Cascade({ router, tools: aiSdkTools(tools), llm: aiSdk({ generateText, model, tools }) })
 * ```
 */
export function aiSdkTools(tools: Record<string, AiSdkTool>): ToolExecutors {
  const out: ToolExecutors = {}
  for (const [name, t] of Object.entries(tools)) {
    const execute = t.execute
    if (typeof execute !== 'function') continue
    out[name] = async (args, ctx) => {
      const r = execute(args as never, { toolCallId: ctx.id, messages: [], abortSignal: ctx.signal })
      // A streaming tool yields preliminary results; the last one is the result.
      if (typeof r === 'object' && r !== null && Symbol.asyncIterator in r) {
        let last: unknown
        for await (const v of r as AsyncIterable<unknown>) last = v
        return last
      }
      return await r
    }
  }
  return out
}
