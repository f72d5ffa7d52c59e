/**
 * Learning from logs: recorded requests and responses (OpenAI, Anthropic, AI SDK) become training
 * examples with the last user message as text, the LLM's first tool call as the label and spans
 * located in the text.
 */
import { generateText, jsonSchema, stepCountIs, tool, type ModelMessage } from 'ai'
import { MockLanguageModelV2 } from 'ai/test'
import test from 'ava'
import { examplesFromTraces, locateSpans, readTraces, Trainer } from '../index.js'
import { assertToolrouterError, fixtureData, SMALL } from './helpers.ts'
import { recorded } from './llm-server.ts'

const openaiRecord = {
  request: {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'put on some Miles Davis' },
    ],
  },
  response: recorded('openai-chat-tool-call'),
}

test('openai: the last user message and the tool called after it, with spans in the text', (t) => {
  const noTool = {
    request: { messages: [{ role: 'user', content: [{ type: 'text', text: 'tell me a joke' }] }] },
    response: recorded('openai-chat-answer'),
  }
  const unanswered = { request: { messages: [{ role: 'user', content: 'hello?' }] } }
  const r = readTraces([openaiRecord, noTool, unanswered], { format: 'openai' })
  t.deepEqual(r.examples, [
    {
      text: 'put on some Miles Davis',
      tool: 'play_music',
      args: { query: 'miles davis' },
      spans: [{ name: 'query', start: 12, end: 23 }],
    },
    { text: 'tell me a joke', tool: null, args: {} },
  ])
  t.is(r.records, 3)
  t.is(r.skipped, 1)
})

test('openai: a whole conversation, earlier turns ignored, tool results not taken for user turns', (t) => {
  const messages = [
    { role: 'user', content: 'what is the weather in Oslo' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":4}' },
    { role: 'assistant', content: '4 °C.' },
    { role: 'user', content: 'set a timer for 🍝 12 minutes' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_2', type: 'function', function: { name: 'set_timer', arguments: '{"duration_minutes":12}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_2', content: 'ok' },
  ]
  t.deepEqual(examplesFromTraces([{ messages }], { format: 'openai' }), [
    // Spans count code points: the emoji is one.
    {
      text: 'set a timer for 🍝 12 minutes',
      tool: 'set_timer',
      args: { duration_minutes: 12 },
      spans: [{ name: 'duration_minutes', start: 18, end: 20 }],
    },
  ])
})

test('anthropic: tool_use blocks; a user message of tool results is not a user turn', (t) => {
  const record = {
    request: {
      model: 'claude-sonnet-4-5',
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'put on some miles davis' }] }],
    },
    response: recorded('anthropic-tool-use'),
  }
  const later = {
    request: {
      messages: [
        ...record.request.messages,
        { role: 'assistant', content: recorded('anthropic-tool-use').content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9a', content: 'Playing' }],
        },
      ],
    },
    response: recorded('anthropic-answer'),
  }
  const r = readTraces([record, later], { format: 'anthropic' })
  t.deepEqual(r.examples, [
    {
      text: 'put on some miles davis',
      tool: 'play_music',
      args: { query: 'miles davis' },
      spans: [{ name: 'query', start: 12, end: 23 }],
    },
  ])
  t.is(r.duplicates, 1, 'the second step of the same loop teaches the same decision')
})

test('ai-sdk: a generateText result from the mock model, logged as JSON', async (t) => {
  const model = new MockLanguageModelV2({
    doGenerate: {
      content: [
        {
          type: 'tool-call',
          toolCallId: 'call_m1',
          toolName: 'get_weather',
          input: '{"city":"Lisbon","date":"Friday"}',
        },
      ],
      finishReason: 'tool-calls',
      usage: { inputTokens: 50, outputTokens: 9, totalTokens: 59 },
      warnings: [],
    },
  })
  const messages: ModelMessage[] = [{ role: 'user', content: 'Weather in Lisbon on Friday?' }]
  const tools = {
    get_weather: tool({
      inputSchema: jsonSchema<{ city: string; date?: string }>({
        type: 'object',
        properties: { city: { type: 'string' }, date: { type: 'string' } },
      }),
    }),
  }
  const result = await generateText({ model, messages, tools })
  const log =
    JSON.stringify({ messages, response: result.response }) +
    '\n' +
    JSON.stringify({ messages, toolCalls: result.toolCalls })
  const r = readTraces(log, { format: 'ai-sdk' })
  t.deepEqual(r.examples, [
    {
      text: 'Weather in Lisbon on Friday?',
      tool: 'get_weather',
      args: { city: 'Lisbon', date: 'Friday' },
      spans: [
        { name: 'city', start: 11, end: 17 },
        { name: 'date', start: 21, end: 27 },
      ],
    },
  ])
  t.is(r.duplicates, 1)
})

test('ai-sdk: a multi-step result is labelled by its first step, logged whole or with a string prompt', async (t) => {
  const usage = { inputTokens: 50, outputTokens: 9, totalTokens: 59 }
  const model = new MockLanguageModelV2({
    doGenerate: [
      {
        content: [{ type: 'tool-call', toolCallId: 'call_m1', toolName: 'get_weather', input: '{"city":"Lisbon"}' }],
        finishReason: 'tool-calls',
        usage,
        warnings: [],
      },
      { content: [{ type: 'text', text: 'Sunny in Lisbon.' }], finishReason: 'stop', usage, warnings: [] },
    ],
  })
  const tools = {
    get_weather: tool({
      inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } } }),
      execute: async () => ({ sky: 'sunny' }),
    }),
  }
  const prompt = 'Weather in Lisbon?'
  const result = await generateText({ model, prompt, tools, stopWhen: stepCountIs(2) })
  t.is(result.toolCalls.length, 0, 'the last step is the answer')
  const expected = { text: prompt, tool: 'get_weather', args: { city: 'Lisbon' }, spans: [{ name: 'city', start: 11, end: 17 }] }
  // Serialised whole, a result keeps its steps only; the prompt was a string.
  t.deepEqual(examplesFromTraces([JSON.parse(JSON.stringify({ prompt, result }))], { format: 'ai-sdk' }), [expected])
  t.deepEqual(examplesFromTraces([{ prompt, response: result.response }], { format: 'ai-sdk' }), [expected])
})

test('openai: the legacy function_call is a call; a first call of another kind teaches nothing', (t) => {
  const user = { role: 'user', content: 'weather in Oslo' }
  const legacy = { messages: [user, { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }
  const custom = { messages: [user, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'custom', custom: { name: 'shell', input: 'ls' } }] }] }
  const r = readTraces([legacy, custom], { format: 'openai' })
  t.deepEqual(r.examples, [{ text: 'weather in Oslo', tool: 'get_weather', args: { city: 'Oslo' }, spans: [{ name: 'city', start: 11, end: 15 }] }])
  t.is(r.skipped, 1, 'not learned as "no tool"')
})

test('openai-responses: input items and output items; reasoning and text before the call do not hide it', (t) => {
  const record = {
    request: {
      model: 'gpt-5-mini',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'weather in Oslo tomorrow' }] }],
    },
    response: {
      output: [
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo","date":"tomorrow"}' },
      ],
    },
  }
  const answered = { request: { input: 'thanks!' }, response: { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'You are welcome.' }] }] } }
  // A later turn: the call and its output are in the input; the model answers in text.
  const after = {
    request: {
      input: [
        { role: 'user', content: 'weather in Oslo tomorrow' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo","date":"tomorrow"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"temp_c":4}' },
      ],
    },
    response: { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: '4 °C.' }] }] },
  }
  const r = readTraces([record, answered, after], { format: 'openai-responses' })
  t.deepEqual(r.examples, [
    {
      text: 'weather in Oslo tomorrow',
      tool: 'get_weather',
      args: { city: 'Oslo', date: 'tomorrow' },
      spans: [
        { name: 'city', start: 11, end: 15 },
        { name: 'date', start: 16, end: 24 },
      ],
    },
    { text: 'thanks!', tool: null, args: {} },
  ])
  t.is(r.duplicates, 1, 'the later turn repeats the first decision')
})

test('a trace file may start with a byte order mark', (t) => {
  const line = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello!' }] })
  t.deepEqual(readTraces(`\uFEFF${line}\r\n${line}\r\n`, { format: 'openai' }).examples, [{ text: 'hi', tool: null, args: {} }])
})

test('locateSpans takes a value as a whole word before a match inside a word', (t) => {
  t.deepEqual(locateSpans('find emails about AI', { query: 'ai' }), [{ name: 'query', start: 18, end: 20 }])
  t.deepEqual(locateSpans('in room 15 set the volume to 5', { volume: 5 }), [{ name: 'volume', start: 29, end: 30 }])
  t.deepEqual(locateSpans('show the emails', { query: 'ai' }), [{ name: 'query', start: 11, end: 13 }], 'inside a word when nowhere else')
  // Case is folded one character at a time: a letter whose lower case is longer does not stop the search.
  t.deepEqual(locateSpans('İ weather in OSLO', { city: 'oslo' }), [{ name: 'city', start: 13, end: 17 }])
})

test('an argument the LLM reworded leaves the example without spans (tool choice only)', (t) => {
  const record = {
    messages: [
      { role: 'user', content: 'timer for half an hour' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c', type: 'function', function: { name: 'set_timer', arguments: '{"duration_minutes":30}' } },
        ],
      },
    ],
  }
  t.deepEqual(examplesFromTraces([record], { format: 'openai' }), [
    { text: 'timer for half an hour', tool: 'set_timer', args: { duration_minutes: 30 } },
  ])
})

test('distilled examples train a router', async (t) => {
  const { tools, train } = await fixtureData()
  const more = examplesFromTraces([openaiRecord], { format: 'openai' })
  const router = await new Trainer({ tools, ...SMALL }).fit([...train, ...more])
  t.is(router.route('put on some miles davis').tool, 'play_music')
})

test('bad records: DATASET_INVALID with the line; a bad format is INVALID_ARGUMENT', (t) => {
  const e = t.throws(() => readTraces('{"messages":[]}\n{not json\n', { format: 'openai', source: 'log.jsonl' }))
  assertToolrouterError(t, e, 'DATASET_INVALID')
  t.regex((e as Error).message, /^log\.jsonl:2: invalid JSON/)
  assertToolrouterError(
    t,
    t.throws(() => readTraces('[1]', { format: 'openai' })),
    'DATASET_INVALID',
  )
  assertToolrouterError(
    t,
    t.throws(() => readTraces('', { format: 'openai' })),
    'DATASET_INVALID',
  )
  assertToolrouterError(
    t,
    t.throws(() => readTraces([], { format: 'gemini' as 'openai' })),
    'INVALID_ARGUMENT',
  )
})
