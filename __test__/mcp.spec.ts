/**
 * MCP round trip: a real MCP server over stdio (`fixtures/mcp-server.mjs`, written with the official
 * SDK), listed as ToolSpecs, called through `mcpTools`, and used as a cascade's tools.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import test from 'ava'
import { Cascade, mcpTools, toolsFromMcp, type CascadeLlm } from '../index.js'
import { assertToolrouterError, fixture, sharedRouter, TOOL_NAMES } from './helpers.ts'

let client: Client

test.before(async () => {
  client = new Client({ name: 'toolrouter-test', version: '1.0.0' })
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [fixture('mcp-server.mjs')], stderr: 'inherit' }),
  )
})

test.after.always(async () => {
  await client?.close()
})

test('toolsFromMcp lists the server tools as ToolSpecs with their JSON schemas', async (t) => {
  const tools = await toolsFromMcp(client)
  t.deepEqual(
    tools.map((x) => x.name),
    ['get_weather', 'play_music', 'set_timer'],
  )
  const weather = tools[0]
  t.is(weather.description, 'Get the current weather or the forecast for a city.')
  t.like(weather.parameters, {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name.' }, date: { type: 'string' } },
    required: ['city'],
  })
  t.like(tools[2].parameters, { properties: { duration_minutes: { type: 'integer' } } })
})

test('mcpTools calls the server: structured content, text, and errors that throw', async (t) => {
  const tools = await mcpTools(client)
  t.deepEqual(Object.keys(tools).sort(), [...TOOL_NAMES].sort())
  t.deepEqual(await tools.get_weather({ city: 'Oslo' }, { id: 'call_1' }), {
    city: 'Oslo',
    temp_c: 4,
    sky: 'light rain',
  })
  t.is(await tools.play_music({ query: 'jazz' }, { id: 'call_2' }), 'Playing jazz')
  await t.throwsAsync(async () => tools.set_timer({ duration_minutes: 900 }, { id: 'call_3' }), {
    message: 'timers longer than 10 hours are not supported',
  })
})

test('a cascade runs a confident route through the MCP server', async (t) => {
  const router = await sharedRouter()
  const llm: CascadeLlm<'openai'> = {
    format: 'openai',
    call: async () => {
      throw new Error('the LLM is not needed here')
    },
  }
  const cascade = new Cascade({ router, tools: await mcpTools(client), llm })
  const r = await cascade.run([{ role: 'user', content: 'set a timer for 25 minutes' }], { toolResultsOnly: true })
  t.is(r.decision, 'local')
  t.deepEqual(
    r.calls.map((c) => [c.tool, c.args, c.result]),
    [['set_timer', { duration_minutes: 25 }, 'Timer set for 25 minutes']],
  )
  t.like(r.messages[2], { role: 'tool', content: 'Timer set for 25 minutes' })
})

test('a value that is not an MCP client is INVALID_ARGUMENT', async (t) => {
  assertToolrouterError(t, await t.throwsAsync(toolsFromMcp({} as Client)), 'INVALID_ARGUMENT')
})

test("mcpTools passes the cascade's signal to callTool, so an abort cancels the call on the server", async (t) => {
  const seen: unknown[][] = []
  const client = {
    listTools: async () => ({ tools: [{ name: 'slow', inputSchema: { type: 'object' } }] }),
    callTool: async (...args: unknown[]) => {
      seen.push(args)
      return { content: [{ type: 'text', text: 'done' }] }
    },
  }
  const tools = await mcpTools(client)
  const ac = new AbortController()
  t.is(await tools.slow({ n: 1 }, { id: 'call_1', signal: ac.signal }), 'done')
  t.deepEqual(seen[0][0], { name: 'slow', arguments: { n: 1 } })
  t.is((seen[0][2] as { signal?: AbortSignal } | undefined)?.signal, ac.signal)
})
