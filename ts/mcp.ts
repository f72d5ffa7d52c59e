/**
 * Model Context Protocol: a server's tools as toolrouter `ToolSpec`s (to train a router on) and as
 * the `execute` map of a {@link Cascade}, through a client of the official `@modelcontextprotocol/sdk`
 * (typed structurally: toolrouter does not import it).
 *
 * @example
 * ```ts
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js'
 * import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
 * const client = new Client({ name: 'my-agent', version: '1.0.0' })
 * await client.connect(new StdioClientTransport({ command: 'node', args: ['server.js'] }))
 * const router = await new Trainer({ tools: await toolsFromMcp(client) }).fit(train)
 * const cascade = new Cascade({ router, tools: await mcpTools(client), llm })
 * ```
 */
import type { ToolSpec } from '../index.js'
import { ToolrouterError } from './errors'
import type { ToolExecutors } from './cascade'

/** The part of an MCP `Client` toolrouter uses. */
export interface McpClient {
  listTools(params?: { cursor?: string }): Promise<{
    tools: Array<{ name: string; description?: string; inputSchema: { [key: string]: unknown } }>
    nextCursor?: string
  }>
  /** `options.signal` (the SDK's request options) cancels the call on the server. */
  callTool(
    params: { name: string; arguments?: Record<string, unknown> },
    resultSchema?: undefined,
    options?: { signal?: AbortSignal },
  ): Promise<unknown>
}

function checkClient(client: unknown): asserts client is McpClient {
  const c = client as Partial<McpClient> | null
  if (typeof c !== 'object' || c === null || typeof c.listTools !== 'function' || typeof c.callTool !== 'function') {
    throw new ToolrouterError(
      'INVALID_ARGUMENT',
      'invalid argument `client`: expected an MCP Client (listTools, callTool)',
    )
  }
}

/**
 * Every tool of an MCP server (all pages of `tools/list`) as a `ToolSpec`: name, description and
 * the input schema as `parameters`.
 * @example
 * ```ts
 * const tools = await toolsFromMcp(client) // [{ name: 'get_weather', description: '…', parameters: { type: 'object', … } }]
 * ```
 */
export async function toolsFromMcp(client: McpClient): Promise<ToolSpec[]> {
  checkClient(client)
  const out: ToolSpec[] = []
  let cursor: string | undefined
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor })
    for (const t of page.tools) {
      out.push({
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: { ...t.inputSchema },
      })
    }
    cursor = page.nextCursor
  } while (cursor)
  return out
}

/** What a tool's `tools/call` result means to the cascade: structured content, text, or the content list. */
function resultValue(name: string, result: unknown): unknown {
  const r = (typeof result === 'object' && result !== null ? result : {}) as {
    content?: unknown
    structuredContent?: unknown
    isError?: unknown
    toolResult?: unknown
  }
  const content = Array.isArray(r.content) ? (r.content as Array<{ type?: unknown; text?: unknown }>) : []
  const texts = content.filter((c) => c.type === 'text' && typeof c.text === 'string').map((c) => c.text as string)
  if (r.isError === true) throw new Error(texts.join('\n') || `the MCP tool ${name} failed`)
  if (r.structuredContent !== undefined) return r.structuredContent
  if ('toolResult' in r) return r.toolResult
  if (texts.length === content.length) return texts.join('\n')
  return content
}

/**
 * The `execute` map for a {@link Cascade}: one function per tool of the server, calling
 * `client.callTool`. A result with `isError` throws (the cascade then hands the turn to the LLM);
 * otherwise the tool returns its `structuredContent`, its text, or its content list.
 * @example
 * ```ts
 * const tools = await mcpTools(client)
 * await tools.get_weather({ city: 'Oslo' }, { id: 'call_1' }) // 'Oslo: 4 °C, light rain'
 * ```
 */
export async function mcpTools(client: McpClient): Promise<ToolExecutors> {
  checkClient(client)
  const out: ToolExecutors = {}
  for (const t of await toolsFromMcp(client)) {
    out[t.name] = async (args, ctx) =>
      resultValue(
        t.name,
        // The cascade's signal reaches the server as a cancellation.
        await client.callTool({ name: t.name, arguments: args }, undefined, ctx?.signal ? { signal: ctx.signal } : undefined),
      )
  }
  return out
}
