/**
 * The cascade in front of the real SDK clients: OpenAI and Anthropic against a local server that
 * answers with recorded responses, the AI SDK against its mock model. The fixture router routes
 * "set a timer for 25 minutes" confidently and completely (local), and "put on some miles davis"
 * to play_music without its required `query` (incomplete: the LLM's).
 */
import type Anthropic from '@anthropic-ai/sdk'
import { generateText, jsonSchema, tool, type ModelMessage } from 'ai'
import { MockLanguageModelV2 } from 'ai/test'
import test from 'ava'
import type OpenAI from 'openai'
import {
  aiSdk,
  aiSdkTools,
  anthropicMessages,
  Cascade,
  messageTokens,
  openaiChat,
  toolTokens,
  type AnthropicClient,
  type CascadeLlm,
  type OpenAIChatClient,
  type Route,
  type Router,
  type ToolExecutors,
  type ToolSpec,
  workflowTools,
} from '../index.js'
import { assertToolrouterError, sharedRouter } from './helpers.ts'
import { llmServer } from './llm-server.ts'

const LOCAL = 'set a timer for 25 minutes'
const UNSURE = 'put on some miles davis'

/** Tools that record their calls. */
function tools(calls: Array<{ tool: string; args: unknown }>): ToolExecutors {
  return {
    set_timer: (args) => {
      calls.push({ tool: 'set_timer', args })
      return { ok: true, ends_at: '10:25' }
    },
    play_music: (args) => {
      calls.push({ tool: 'play_music', args })
      return `Playing ${String(args.query)}`
    },
    get_weather: () => ({ temp_c: 4 }),
  }
}

test('a confident, complete route runs the tool locally; with toolResultsOnly no LLM call is made', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  const calls: Array<{ tool: string; args: unknown }> = []
  const cascade = new Cascade({
    router,
    tools: tools(calls),
    llm: openaiChat(server.openai(), { model: 'gpt-4o-mini' }),
  })
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: LOCAL }]
  const r = await cascade.run(messages, { toolResultsOnly: true })
  const next: OpenAI.ChatCompletionMessageParam[] = r.messages
  t.is(r.decision, 'local')
  t.is(server.received.length, 0)
  t.deepEqual(calls, [{ tool: 'set_timer', args: { duration_minutes: 25 } }])
  t.is(next.length, 3)
  t.like(next[1], {
    role: 'assistant',
    tool_calls: [{ type: 'function', function: { name: 'set_timer', arguments: '{"duration_minutes":25}' } }],
  })
  t.like(next[2], { role: 'tool', content: '{"ok":true,"ends_at":"10:25"}' })
  t.is(r.usage.llmCalls, 0)
  t.is(r.usage.llmCallsAvoided, 1)
  t.is(r.usage.promptTokens, 0)
  t.true(r.usage.tokensSaved > toolTokens(router.tools, 'openai'), `${r.usage.tokensSaved} tokens saved`)
  t.is(r.usage.tokensSaved, r.usage.baselinePromptTokens)
  t.is(messages.length, 1, 'the input is not modified')
})

test('after a local call the OpenAI model phrases the answer, without tool definitions', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  server.reply('/v1/chat/completions', 'openai-chat-answer')
  const cascade = new Cascade({ router, tools: tools([]), llm: openaiChat(server.openai(), { model: 'gpt-4o-mini' }) })
  const r = await cascade.run<OpenAI.ChatCompletionMessageParam>([{ role: 'user', content: LOCAL }])
  t.is(r.decision, 'local')
  t.is(r.text, "Done: it's playing now.")
  t.is(server.received.length, 1)
  const body = server.received[0].body
  t.false('tools' in body, 'no tool definitions sent')
  t.deepEqual(body.messages, r.messages.slice(0, 3))
  t.deepEqual(r.messages[3], { role: 'assistant', content: "Done: it's playing now." })
  t.is(r.usage.llmCalls, 1)
  t.is(r.usage.llmCallsAvoided, 1)
  t.is(r.usage.reportedInputTokens, 98)
  // A plain loop sends every tool twice; this run sent none.
  t.is(r.usage.toolTokensSaved, 2 * toolTokens(router.tools, 'openai'))
  t.true(r.usage.messageTokensSaved > 0)
})

test('when the router is unsure the OpenAI model gets the shortlist and a hint; its call runs and is recorded', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  server.reply('/v1/chat/completions', 'openai-chat-tool-call')
  server.reply('/v1/chat/completions', 'openai-chat-answer')
  const calls: Array<{ tool: string; args: unknown }> = []
  const llm = openaiChat(server.openai(), { model: 'gpt-4o-mini', params: { temperature: 0 } })
  // A threshold above the router's confidence on UNSURE, so the request is surely unsure.
  const cascade = new Cascade({ router, tools: tools(calls), llm, shortlist: 2, minConfidence: 0.999 })
  const r = await cascade.run([{ role: 'user' as const, content: UNSURE }])
  t.is(r.decision, 'llm')
  t.is(r.route.tool, null)
  t.is(r.route.reason, 'low_confidence')
  t.is(r.route.alternatives[0]?.tool, 'play_music')
  t.false(r.route.complete)
  t.deepEqual(calls, [{ tool: 'play_music', args: { query: 'miles davis' } }])
  t.is(server.received.length, 2)
  const [first, second] = server.received.map((x) => x.body)
  t.is(first.temperature, 0)
  const offered = (first.tools as OpenAI.ChatCompletionFunctionTool[]).map((x) => x.function.name)
  t.is(offered.length, 2)
  t.is(offered[0], 'play_music', 'the router’s best tool first')
  const sent = first.messages as Array<{ role: string; content: string }>
  t.is(sent.at(-1)?.role, 'system')
  t.regex(sent.at(-1)?.content ?? '', /best guesses for this request: play_music \(0\.\d\d\)/)
  t.like((second.messages as unknown[])[2], {
    role: 'tool',
    tool_call_id: 'call_Gx7kR2pQy9TbW3sLm5NvZa1c',
    content: 'Playing miles davis',
  })
  t.is(r.text, "Done: it's playing now.")
  t.is(r.messages.length, 4, 'user, tool call, tool result, answer (the hint is not kept)')
  t.is(r.usage.llmCalls, 2)
  t.is(r.usage.llmCallsAvoided, 0)
  t.is(r.usage.reportedInputTokens, 211 + 98)
  t.true(r.usage.toolTokensSaved > 0, 'the shortlist sends fewer tool definitions')
  t.deepEqual(cascade.records(), [
    {
      text: UNSURE,
      tool: 'play_music',
      args: { query: 'miles davis' },
      route: { tool: null, confidence: r.route.confidence, reason: 'low_confidence' },
    },
  ])
  t.deepEqual(cascade.examples(), [
    {
      text: UNSURE,
      tool: 'play_music',
      args: { query: 'miles davis' },
      spans: [{ name: 'query', start: 12, end: 23 }],
    },
  ])
})

test('a local tool that throws hands the turn to the LLM with the error noted', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  server.reply('/v1/chat/completions', 'openai-chat-answer')
  const failing: ToolExecutors = {
    set_timer: () => {
      throw new Error('the timer service is down')
    },
  }
  const cascade = new Cascade({ router, tools: failing, llm: openaiChat(server.openai(), { model: 'gpt-4o-mini' }) })
  const r = await cascade.run([{ role: 'user', content: LOCAL }])
  t.is(r.decision, 'llm')
  t.is(r.text, "Done: it's playing now.")
  const sent = server.received[0].body.messages as Array<{ role: string; content: string }>
  t.regex(
    sent.at(-1)?.content ?? '',
    /set_timer was called with \{"duration_minutes":25\} and failed: the timer service is down/,
  )
  t.is(cascade.stats().toolErrors, 1)
  t.deepEqual(cascade.records()[0].tool, null, 'the LLM answered without a tool')
})

test('Anthropic: the answer after a local call sends the called tool with tool_choice none; unsure requests get the shortlist', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  server.reply('/v1/messages', 'anthropic-answer')
  server.reply('/v1/messages', 'anthropic-tool-use')
  server.reply('/v1/messages', 'anthropic-answer')
  const llm = anthropicMessages(server.anthropic(), { model: 'claude-sonnet-4-5', system: 'Be brief.' })
  const cascade = new Cascade({ router, tools: tools([]), llm, shortlist: 1 })

  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: LOCAL }]
  const local = await cascade.run(messages)
  const next: Anthropic.MessageParam[] = local.messages
  t.is(local.decision, 'local')
  t.is(local.text, 'Your timer is running: 25 minutes.')
  const body = server.received[0].body
  t.deepEqual(body.tool_choice, { type: 'none' })
  t.deepEqual(
    (body.tools as Anthropic.Tool[]).map((x) => x.name),
    ['set_timer'],
  )
  t.is(body.system, 'Be brief.')
  t.is(body.max_tokens, 1024)
  t.deepEqual(body.messages, next.slice(0, 3))
  t.like(next[1], {
    role: 'assistant',
    content: [{ type: 'tool_use', name: 'set_timer', input: { duration_minutes: 25 } }],
  })
  t.regex((next[1].content as Anthropic.ToolUseBlockParam[])[0].id, /^toolu_01[A-Za-z0-9]{22}$/)

  const unsure = await cascade.run<Anthropic.MessageParam>([{ role: 'user', content: UNSURE }])
  t.is(unsure.decision, 'llm')
  const first = server.received[1].body
  t.deepEqual(
    (first.tools as Anthropic.Tool[]).map((x) => x.name),
    ['play_music'],
  )
  t.deepEqual(first.tool_choice, { type: 'auto' })
  t.regex(String(first.system), /^Be brief\.\n\nA tool router's best guesses/)
  t.like(server.received[2].body.messages, [
    { role: 'user' },
    { role: 'assistant', content: [{ type: 'text' }, { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9a' }] },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9a', content: 'Playing miles davis' }],
    },
  ])
  t.is(cascade.records()[0].tool, 'play_music')
})

test('AI SDK: generateText with the mock model, local and unsure requests', async (t) => {
  const router = await sharedRouter()
  const usage = { inputTokens: 30, outputTokens: 5, totalTokens: 35 }
  const model = new MockLanguageModelV2({
    doGenerate: [
      { content: [{ type: 'text', text: 'Timer set.' }], finishReason: 'stop', usage, warnings: [] },
      {
        content: [
          { type: 'tool-call', toolCallId: 'call_mock1', toolName: 'play_music', input: '{"query":"miles davis"}' },
        ],
        finishReason: 'tool-calls',
        usage,
        warnings: [],
      },
      { content: [{ type: 'text', text: 'Playing.' }], finishReason: 'stop', usage, warnings: [] },
    ],
  })
  const played: string[] = []
  const sdkTools = {
    set_timer: tool({
      description: 'Start a countdown timer.',
      inputSchema: jsonSchema<{ duration_minutes: number }>({
        type: 'object',
        properties: { duration_minutes: { type: 'integer' } },
        required: ['duration_minutes'],
      }),
      execute: async ({ duration_minutes }) => ({ ok: true, minutes: duration_minutes }),
    }),
    play_music: tool({
      description: 'Play a song, an artist or a genre.',
      inputSchema: jsonSchema<{ query: string }>({
        type: 'object',
        properties: { query: { type: 'string' } },
        required: ['query'],
      }),
      execute: async ({ query }) => {
        played.push(query)
        return `Playing ${query}`
      },
    }),
  }
  const llm: CascadeLlm<'ai-sdk'> = aiSdk({ generateText, model, tools: sdkTools, system: 'Be brief.' })
  const cascade = new Cascade({ router, tools: aiSdkTools(sdkTools), llm, shortlist: 1 })

  const local = await cascade.run<ModelMessage>([{ role: 'user', content: LOCAL }])
  const next: ModelMessage[] = local.messages
  t.is(local.decision, 'local')
  t.is(local.text, 'Timer set.')
  t.like(next[2], {
    role: 'tool',
    content: [
      { type: 'tool-result', toolName: 'set_timer', output: { type: 'json', value: { ok: true, minutes: 25 } } },
    ],
  })
  // The called tool goes with the answer's request, never to be called (an Anthropic model
  // refuses tool blocks without definitions).
  t.deepEqual(
    model.doGenerateCalls[0].tools?.map((x) => x.name),
    ['set_timer'],
  )
  t.deepEqual(model.doGenerateCalls[0].toolChoice, { type: 'none' })
  t.like(model.doGenerateCalls[0].prompt[0], { role: 'system', content: 'Be brief.' })

  const unsure = await cascade.run<ModelMessage>([{ role: 'user', content: UNSURE }])
  t.is(unsure.decision, 'llm')
  t.deepEqual(played, ['miles davis'])
  t.deepEqual(
    model.doGenerateCalls[1].tools?.map((x) => x.name),
    ['play_music'],
  )
  t.regex(String(model.doGenerateCalls[1].prompt[0].content), /best guesses/)
  t.like(model.doGenerateCalls[2].prompt.at(-1), {
    role: 'tool',
    content: [
      { type: 'tool-result', toolCallId: 'call_mock1', output: { type: 'text', value: 'Playing miles davis' } },
    ],
  })
  t.is(unsure.text, 'Playing.')
  t.is(cascade.examples()[0].tool, 'play_music')
})

test('stats() sums the runs', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  server.reply('/v1/chat/completions', 'openai-chat-tool-call')
  const cascade = new Cascade({ router, tools: tools([]), llm: openaiChat(server.openai(), { model: 'gpt-4o-mini' }) })
  const a = await cascade.run([{ role: 'user', content: LOCAL }], { toolResultsOnly: true })
  const b = await cascade.run([{ role: 'user', content: UNSURE }], { toolResultsOnly: true })
  const s = cascade.stats()
  t.is(s.runs, 2)
  t.is(s.local, 1)
  t.is(s.llm, 1)
  t.is(s.localShare, 0.5)
  t.is(s.llmCalls, 1)
  t.is(s.llmCallsAvoided, 1)
  t.is(s.tokensSaved, a.usage.tokensSaved + b.usage.tokensSaved)
  t.is(s.promptTokens, a.usage.promptTokens + b.usage.promptTokens)
  t.true(s.meanRouteMs > 0)
})

test('misuse is INVALID_ARGUMENT', async (t) => {
  const router = await sharedRouter()
  const server = await llmServer(t)
  const llm = openaiChat(server.openai(), { model: 'gpt-4o-mini' })
  const bad: Array<() => unknown> = [
    () =>
      new Cascade({ router, tools: {}, llm: { format: 'gemini', call: llm.call } as unknown as CascadeLlm<'openai'> }),
    () => new Cascade({ router, tools: {}, llm, shortlist: 0 }),
    () => new Cascade({ router, tools: {}, llm, minConfidence: 2 }),
    () => new Cascade({ router, tools: { x: 'not a function' } as unknown as ToolExecutors, llm }),
  ]
  for (const fn of bad) assertToolrouterError(t, t.throws(fn), 'INVALID_ARGUMENT')
  const cascade = new Cascade({ router, tools: {}, llm })
  assertToolrouterError(t, await t.throwsAsync(cascade.run([{ role: 'assistant', content: 'hi' }])), 'INVALID_ARGUMENT')
})

/** An OpenAI client answering with `replies` in turn, keeping the requests' messages. */
function fakeOpenAI(replies: Array<{ content: string | null; refusal?: string; tool_calls?: unknown[] }>) {
  const sent: unknown[][] = []
  const client = {
    chat: {
      completions: {
        create: async (body: { messages: unknown[] }) => {
          sent.push(body.messages)
          const message = replies.shift()
          if (message === undefined) throw new Error('no more replies')
          return { choices: [{ message }] }
        },
      },
    },
  } as unknown as OpenAIChatClient
  return { client, sent }
}

const callOf = (id: string, args: string) => ({ id, type: 'function', function: { name: 'play_music', arguments: args } })

test('an LLM call whose arguments are not a JSON object does not run; the LLM gets the error and its next try is recorded', async (t) => {
  const router = await sharedRouter()
  const { client, sent } = fakeOpenAI([
    // Cut off mid-JSON, as a reply that ran out of tokens.
    { content: null, tool_calls: [callOf('call_1', '{"query":"miles da')] },
    { content: null, tool_calls: [callOf('call_2', '{"query":"miles davis"}')] },
    { content: 'Playing.' },
  ])
  const calls: Array<{ tool: string; args: unknown }> = []
  const cascade = new Cascade({ router, tools: tools(calls), llm: openaiChat(client, { model: 'm' }), minConfidence: 0.999 })
  const r = await cascade.run([{ role: 'user', content: UNSURE }])
  t.deepEqual(calls, [{ tool: 'play_music', args: { query: 'miles davis' } }], 'only the valid call ran')
  t.regex(r.calls[0].error ?? '', /not valid JSON/)
  // The router's hint comes last in an OpenAI request; the tool result before it.
  t.like(sent[1].at(-2), { role: 'tool', tool_call_id: 'call_1', content: 'Error: invalid arguments: the arguments are not valid JSON' })
  t.is(r.text, 'Playing.')
  t.deepEqual(
    cascade.records().map((x) => [x.tool, x.args]),
    [['play_music', { query: 'miles davis' }]],
  )
})

test('an aborted signal ends the run with ABORTED: before the route, and when the tool fails because of it', async (t) => {
  const router = await sharedRouter()
  const { client, sent } = fakeOpenAI([{ content: 'unused' }])
  const calls: Array<{ tool: string; args: unknown }> = []
  const llm = openaiChat(client, { model: 'm' })
  const before = new AbortController()
  before.abort()
  const cascade = new Cascade({ router, tools: tools(calls), llm })
  assertToolrouterError(t, await t.throwsAsync(cascade.run([{ role: 'user', content: LOCAL }], { signal: before.signal })), 'ABORTED')
  t.deepEqual(calls, [], 'no tool ran')
  const during = new AbortController()
  const aborting = new Cascade({
    router,
    llm,
    tools: {
      set_timer: () => {
        during.abort()
        throw new Error('aborted by the caller')
      },
    },
  })
  assertToolrouterError(t, await t.throwsAsync(aborting.run([{ role: 'user', content: LOCAL }], { signal: during.signal })), 'ABORTED')
  t.is(sent.length, 0, 'the aborted turn does not go to the LLM')
  t.is(aborting.stats().toolErrors, 0)
})

test('a refusal stays the assistant message; an empty Anthropic reply adds no message', async (t) => {
  const router = await sharedRouter()
  const { client } = fakeOpenAI([{ content: null, refusal: 'I cannot help with that.' }])
  const openai = new Cascade({ router, tools: tools([]), llm: openaiChat(client, { model: 'm' }), minConfidence: 0.999 })
  const r = await openai.run([{ role: 'user', content: UNSURE }])
  t.is(r.text, 'I cannot help with that.')
  t.deepEqual(r.messages.at(-1), { role: 'assistant', content: 'I cannot help with that.' })

  const anthropic = {
    messages: { create: async () => ({ content: [], usage: { input_tokens: 1, output_tokens: 0 } }) },
  } as unknown as AnthropicClient
  const cascade = new Cascade({ router, tools: tools([]), llm: anthropicMessages(anthropic, { model: 'm', maxTokens: 64 }) })
  const local = await cascade.run([{ role: 'user', content: LOCAL }])
  t.is(local.decision, 'local')
  t.is(local.text, '')
  t.is(local.messages.length, 3, 'user, tool call, tool result: no empty assistant message')
})

test('tool results: BigInts are numbers (or strings past 2^53); a result with a cycle is a tool error', async (t) => {
  const router = await sharedRouter()
  const big: ToolExecutors = { set_timer: () => ({ id: 7n, serial: 2n ** 64n }) }
  const r = await new Cascade({ router, tools: big, llm: openaiChat(fakeOpenAI([]).client, { model: 'm' }) }).run(
    [{ role: 'user', content: LOCAL }],
    { toolResultsOnly: true },
  )
  t.is(r.decision, 'local')
  t.like(r.messages[2], { role: 'tool', content: '{"id":7,"serial":"18446744073709551616"}' })
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const { client, sent } = fakeOpenAI([{ content: 'The timer could not be read back.' }])
  const cascade = new Cascade({ router, tools: { set_timer: () => cyclic }, llm: openaiChat(client, { model: 'm' }) })
  const c = await cascade.run([{ role: 'user', content: LOCAL }])
  t.is(c.decision, 'llm')
  t.regex(JSON.stringify(sent[0].at(-1)), /set_timer was called with .* and failed: .*not JSON-serialisable/)
})

test('an llm whose call() returns nothing is INVALID_ARGUMENT, not a TypeError', async (t) => {
  const router = await sharedRouter()
  const llm = { format: 'openai', call: async () => undefined } as unknown as CascadeLlm<'openai'>
  const cascade = new Cascade({ router, tools: tools([]), llm, minConfidence: 0.999 })
  assertToolrouterError(t, await t.throwsAsync(cascade.run([{ role: 'user', content: UNSURE }])), 'INVALID_ARGUMENT')
})

test('messageTokens: images count nothing, structured tool results count as their JSON in every format', (t) => {
  const image = 'A'.repeat(300_000)
  const text = { role: 'user', content: [{ type: 'text', text: 'what is in this picture?' }] }
  const anthropic = { role: 'user', content: [text.content[0], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: image } }] }
  const openai = { role: 'user', content: [text.content[0], { type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } }] }
  // The image's media type is a few tokens; its 300 000 base64 characters nothing.
  for (const m of [anthropic, openai]) t.true(messageTokens([m]) - messageTokens([text]) < 10, `${messageTokens([m])}`)
  const rows = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `item ${i}` }))
  const aiSdk = { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c', toolName: 't', output: { type: 'json', value: rows } }] }
  const asOpenAI = { role: 'tool', tool_call_id: 'c', content: JSON.stringify(rows) }
  t.true(
    Math.abs(messageTokens([aiSdk]) - messageTokens([asOpenAI])) < 10,
    `${messageTokens([aiSdk])} vs ${messageTokens([asOpenAI])}`,
  )
  const scalar = { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c', toolName: 't', output: { type: 'json', value: 42 } }] }
  t.true(messageTokens([scalar]) > messageTokens([{ role: 'tool', content: [] }]))
})

test('Cascade.runChain tells the LLM which local tool failed and how, thrown or returned', async (t) => {
  const specs: ToolSpec[] = [
    { name: 'lookup_order', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
    { name: 'refund_order', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
  ]
  // Workflows without an error result: a returned error goes to the LLM too.
  const train = [
    {
      request: 'refund A1',
      steps: [
        { tool: 'lookup_order', args: { order_id: 'A1' }, result: { amount: 5 } },
        { tool: 'refund_order', args: { order_id: 'A1' }, result: { ok: true } },
      ],
    },
  ]
  // A stand-in for a trained router: the lookup, then the refund, then finish.
  const router = (): Router => {
    let n = 0
    const script = [
      { tool: 'lookup_order', args: { order_id: 'A1' } },
      { tool: 'refund_order', args: { order_id: 'A1' } },
      { tool: '__finish__', args: {} },
    ]
    const route = (): Route => ({
      confidence: 0.99,
      alternatives: [],
      spans: [],
      abstained: false,
      reason: 'confident',
      missing: [],
      invalid: [],
      complete: true,
      ...script[Math.min(n++, script.length - 1)],
    })
    return { tools: workflowTools(specs, train), route } as unknown as Router
  }
  const { client, sent } = fakeOpenAI([{ content: 'The refund service is down.' }, { content: 'No such order.' }, { content: 'Refunded.' }])
  const llm = openaiChat(client, { model: 'm' })
  const hints: Array<string | undefined> = []
  const recording: CascadeLlm<'openai'> = {
    format: 'openai',
    call: (req) => {
      hints.push(req.hint)
      return llm.call(req)
    },
  }
  const thrown = new Cascade({
    router: router(),
    llm: recording,
    tools: {
      lookup_order: () => ({ amount: 5 }),
      refund_order: () => {
        throw new Error('the refund service is down')
      },
    },
  })
  const r = await thrown.runChain('refund A1')
  t.is(r.handover?.reason, 'tool_error')
  t.is(hints[0], 'The tool refund_order was called with {"order_id":"A1"} and failed: the refund service is down.')
  t.like(sent[0].at(-1), { role: 'system', content: hints[0] })
  const returned = new Cascade({ router: router(), llm: recording, tools: { lookup_order: () => ({ error: { message: 'no such order' } }) } })
  const r2 = await returned.runChain('refund A1')
  t.is(r2.handover?.reason, 'tool_error')
  t.is(hints[1], 'The tool lookup_order was called with {"order_id":"A1"} and failed: no such order.')
  // Handed over for another reason, there is nothing to note.
  const other = new Cascade({ router: router(), llm: recording, tools: {} })
  t.is((await other.runChain('refund A1')).handover?.reason, 'no_executor')
  t.is(hints.length, 3)
  t.is(hints[2], undefined)
})
