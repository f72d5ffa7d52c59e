/**
 * Synthetic history in the four formats: typed as the SDKs' own message types (checked by
 * `tsc -p __test__`), sent through the real clients to a local server (OpenAI, Anthropic) or to the
 * AI SDK's mock model, and received exactly as written.
 */
import type Anthropic from '@anthropic-ai/sdk'
import { generateText, type ModelMessage } from 'ai'
import { MockLanguageModelV2 } from 'ai/test'
import test from 'ava'
import type OpenAI from 'openai'
import { newToolCallId, toSyntheticHistory } from '../index.js'
import { assertToolrouterError } from './helpers.ts'
import { llmServer } from './llm-server.ts'

const CALL = { tool: 'get_weather', args: { city: 'Oslo', date: 'tomorrow' } }
const RESULT = { city: 'Oslo', temp_c: 4, sky: 'light rain' }
const RESULT_JSON = '{"city":"Oslo","temp_c":4,"sky":"light rain"}'
const USER = 'will it rain in Oslo tomorrow?'

test('openai: an assistant tool call and a tool message, sent as written by the OpenAI client', async (t) => {
  const server = await llmServer(t)
  server.reply('/v1/chat/completions', 'openai-chat-answer')
  const id = 'call_Xq3bP9kLm2NvR7sT1wYz4AcD'
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'user', content: USER },
    ...toSyntheticHistory({ ...CALL, id }, RESULT, 'openai'),
  ]
  const completion = await server.openai().chat.completions.create({ model: 'gpt-4o-mini', messages })
  t.is(completion.choices[0].message.content, "Done: it's playing now.")
  t.is(server.received[0].path, '/v1/chat/completions')
  t.deepEqual(server.received[0].body.messages, [
    { role: 'user', content: USER },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","date":"tomorrow"}' } },
      ],
    },
    { role: 'tool', tool_call_id: id, content: RESULT_JSON },
  ])
})

test('openai-responses: function_call and function_call_output items, sent as written by the OpenAI client', async (t) => {
  const server = await llmServer(t)
  server.reply('/v1/responses', 'openai-responses-answer')
  const id = 'call_Xq3bP9kLm2NvR7sT1wYz4AcD'
  const input: OpenAI.Responses.ResponseInputItem[] = [
    { role: 'user', content: USER },
    ...toSyntheticHistory({ ...CALL, id }, RESULT, 'openai-responses'),
  ]
  const response = await server.openai().responses.create({ model: 'gpt-4o-mini', input })
  t.is(response.output_text, 'It is 4 °C in Oslo.')
  t.deepEqual(server.received[0].body.input, [
    { role: 'user', content: USER },
    { type: 'function_call', call_id: id, name: 'get_weather', arguments: '{"city":"Oslo","date":"tomorrow"}' },
    { type: 'function_call_output', call_id: id, output: RESULT_JSON },
  ])
})

test('anthropic: a tool_use block and the matching tool_result, sent as written by the Anthropic client', async (t) => {
  const server = await llmServer(t)
  server.reply('/v1/messages', 'anthropic-answer')
  const id = 'toolu_01D7FLrfh4GYq7yT1ULFeyMV'
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: USER },
    ...toSyntheticHistory({ ...CALL, id }, RESULT, 'anthropic'),
  ]
  const message = await server.anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, messages })
  t.is(message.stop_reason, 'end_turn')
  t.is(server.received[0].path, '/v1/messages')
  t.deepEqual(server.received[0].body.messages, [
    { role: 'user', content: USER },
    { role: 'assistant', content: [{ type: 'tool_use', id, name: 'get_weather', input: CALL.args }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: RESULT_JSON }] },
  ])
})

test('ai-sdk: a tool-call part and a tool-result part, as ModelMessages the mock model receives', async (t) => {
  const model = new MockLanguageModelV2({
    doGenerate: {
      content: [{ type: 'text', text: 'Light rain in Oslo tomorrow.' }],
      finishReason: 'stop',
      usage: { inputTokens: 40, outputTokens: 7, totalTokens: 47 },
      warnings: [],
    },
  })
  const id = 'call_Xq3bP9kLm2NvR7sT1wYz4AcD'
  const messages: ModelMessage[] = [
    { role: 'user', content: USER },
    ...toSyntheticHistory({ ...CALL, id }, RESULT, 'ai-sdk'),
  ]
  const result = await generateText({ model, messages })
  t.is(result.text, 'Light rain in Oslo tomorrow.')
  const prompt = model.doGenerateCalls[0].prompt
  t.is(prompt.length, 3)
  t.like(prompt[1], {
    role: 'assistant',
    content: [{ type: 'tool-call', toolCallId: id, toolName: 'get_weather', input: CALL.args }],
  })
  t.like(prompt[2], {
    role: 'tool',
    content: [
      { type: 'tool-result', toolCallId: id, toolName: 'get_weather', output: { type: 'json', value: RESULT } },
    ],
  })
})

test('ids follow each provider format and are fresh on every call', (t) => {
  const openai = toSyntheticHistory(CALL, RESULT, 'openai')
  t.regex(openai[0].tool_calls[0].id, /^call_[A-Za-z0-9]{24}$/)
  t.is(openai[1].tool_call_id, openai[0].tool_calls[0].id)
  const responses = toSyntheticHistory(CALL, RESULT, 'openai-responses')
  t.regex(responses[0].call_id, /^call_[A-Za-z0-9]{24}$/)
  t.is(responses[1].call_id, responses[0].call_id)
  const anthropic = toSyntheticHistory(CALL, RESULT, 'anthropic')
  t.regex(anthropic[0].content[0].id, /^toolu_01[A-Za-z0-9]{22}$/)
  t.is(anthropic[1].content[0].tool_use_id, anthropic[0].content[0].id)
  const aiSdk = toSyntheticHistory(CALL, RESULT, 'ai-sdk')
  t.regex(aiSdk[0].content[0].toolCallId, /^call_[A-Za-z0-9]{24}$/)
  t.is(aiSdk[1].content[0].toolCallId, aiSdk[0].content[0].toolCallId)
  t.not(newToolCallId('openai'), newToolCallId('openai'))
})

test('with an id the output is deterministic', (t) => {
  for (const format of ['openai', 'openai-responses', 'anthropic', 'ai-sdk'] as const) {
    const a = toSyntheticHistory({ ...CALL, id: 'call_fixed' }, RESULT, format)
    const b = toSyntheticHistory({ ...CALL, id: 'call_fixed' }, RESULT, format)
    t.deepEqual(a, b, format)
    t.true(JSON.stringify(a).includes('"call_fixed"'), format)
  }
})

test('a string result is sent as it is, anything else as JSON', (t) => {
  t.is(toSyntheticHistory(CALL, 'sunny, 21 °C', 'openai')[1].content, 'sunny, 21 °C')
  t.is(toSyntheticHistory(CALL, undefined, 'openai')[1].content, 'null')
  t.is(toSyntheticHistory(CALL, [1, 2], 'anthropic')[1].content[0].content, '[1,2]')
  t.deepEqual(toSyntheticHistory(CALL, 'sunny', 'ai-sdk')[1].content[0].output, { type: 'text', value: 'sunny' })
  t.deepEqual(toSyntheticHistory(CALL, { n: 1 }, 'ai-sdk')[1].content[0].output, { type: 'json', value: { n: 1 } })
})

test('misuse is INVALID_ARGUMENT', (t) => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const bad: Array<() => unknown> = [
    () => toSyntheticHistory(CALL, RESULT, 'gemini' as 'openai'),
    () => toSyntheticHistory({ tool: '', args: {} }, RESULT, 'openai'),
    () => toSyntheticHistory({ tool: 'x', args: [] as unknown as Record<string, unknown> }, RESULT, 'openai'),
    () => toSyntheticHistory(CALL, cyclic, 'openai'),
  ]
  for (const fn of bad) assertToolrouterError(t, t.throws(fn), 'INVALID_ARGUMENT')
  // BigInts (database rows) are numbers when exact, else decimal strings; a function is null.
  t.deepEqual(toSyntheticHistory(CALL, 10n, 'ai-sdk')[1].content[0].output, { type: 'json', value: 10 })
  t.is(toSyntheticHistory(CALL, { id: 2n ** 64n }, 'openai')[1].content, '{"id":"18446744073709551616"}')
  t.is(toSyntheticHistory(CALL, () => 1, 'openai')[1].content, 'null')
})
