import test from 'ava'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadExamples, loadTools, Router, Trainer, type Example, type ToolSpec } from '../index.js'
import { assertToolrouterError, sharedRouter, tempDir, TOOL_NAMES } from './helpers.ts'

const DEMO = fileURLToPath(new URL('../data/demo/', import.meta.url))
const HELD = 'get_stock_price'

const ALARM: ToolSpec = {
  name: 'set_alarm',
  description: 'Wake the user up at a clock time with an alarm.',
  parameters: { type: 'object', properties: { time: { type: 'string' } } },
}
const ALARM_EXAMPLES = ['wake me up at 6am', 'set an alarm for 7:30', 'alarm at 5 tomorrow morning', 'wake me at noon']

function names(r: Router): string[] {
  return r.tools.map((t) => t.name)
}

const DEMO_OPTIONS = { dModel: 32, layers: 1, heads: 2, epochs: 15, pretrained: 'minilm', toolSpace: true } as const

/** The demo training requests of every tool but `get_stock_price`. */
async function demoTrain(): Promise<Example[]> {
  const tools = await loadTools(path.join(DEMO, 'tools.json'))
  return (await loadExamples(path.join(DEMO, 'train.jsonl'), { tools })).filter((e) => e.tool !== HELD)
}

/** The demo data without `get_stock_price`, trained as a tool space once for this file. */
let demo: Promise<{ router: Router; held: ToolSpec; heldTrain: Example[]; heldTest: Example[] }> | undefined
function demoToolSpace(): NonNullable<typeof demo> {
  demo ??= (async () => {
    const tools = await loadTools(path.join(DEMO, 'tools.json'))
    const train = await loadExamples(path.join(DEMO, 'train.jsonl'), { tools })
    const test = await loadExamples(path.join(DEMO, 'test.jsonl'), { tools })
    const held = tools.find((t) => t.name === HELD)
    if (held === undefined) throw new Error(`${HELD} missing from the demo tools`)
    const router = await new Trainer({ ...DEMO_OPTIONS, tools: tools.filter((t) => t.name !== HELD), seed: 3 }).fit(
      train.filter((e) => e.tool !== HELD),
    )
    return {
      router,
      held,
      heldTrain: train.filter((e) => e.tool === HELD),
      heldTest: test.filter((e) => e.tool === HELD),
    }
  })()
  return demo
}

async function freshCopy(r: Router, t: import('ava').ExecutionContext): Promise<Router> {
  const file = path.join(tempDir(t), 'copy.trm')
  await r.save(file)
  return Router.load(file)
}

test('addTool and removeTool change router.tools, and removing the added tool restores every route', async (t) => {
  // A classic router (no tool space): the added tool's row comes from the ridge fallback.
  const r = await freshCopy(await sharedRouter(), t)
  const queries = ['what is the weather in Oslo', 'play some jazz', 'set a timer for 3 minutes', 'wake me up at 6:45']
  const before = queries.map((q) => r.route(q, { threshold: 0 }))
  r.addTool(ALARM, ALARM_EXAMPLES)
  t.deepEqual(names(r), [...TOOL_NAMES, 'set_alarm'])
  t.is(r.tools[3]?.description, ALARM.description)
  t.true(r.route('wake me up at 6:45', { threshold: 0 }).alternatives.length === 3)
  r.removeTool('set_alarm')
  t.deepEqual(names(r), TOOL_NAMES)
  t.deepEqual(
    queries.map((q) => r.route(q, { threshold: 0 })),
    before,
  )
})

test('a saved router keeps an added tool and routes the same after loading', async (t) => {
  const r = await freshCopy(await sharedRouter(), t)
  r.addTool(ALARM, ALARM_EXAMPLES)
  const file = path.join(tempDir(t), 'with-alarm.trm')
  await r.save(file)
  const back = await Router.load(file)
  t.deepEqual(names(back), names(r))
  for (const q of ['wake me up at 6:45', 'play some jazz', 'will it rain in Rome']) {
    t.deepEqual(back.route(q, { threshold: 0 }), r.route(q, { threshold: 0 }))
  }
})

test('adding a trained tool again replaces its spec and keeps its trained routes; an added one is replaced', async (t) => {
  const r = await freshCopy(await sharedRouter(), t)
  const probes = ['play some jazz', 'put on music by abba', 'what is the weather in Oslo']
  const before = probes.map((p) => r.route(p, { threshold: 0 }).confidence)
  r.addTool({ ...ALARM, name: 'play_music', description: 'Play a song.' }, ['play a song'])
  // Until 2026-12-07 its trained row was rebuilt from the text (and moved to the end).
  t.deepEqual(names(r), TOOL_NAMES)
  t.is(r.tools[1]?.description, 'Play a song.')
  t.deepEqual(
    probes.map((p) => r.route(p, { threshold: 0 }).confidence),
    before,
  )
  t.deepEqual(r.training.added ?? [], [])
  r.addTool(ALARM, ALARM_EXAMPLES)
  r.addTool({ ...ALARM, description: 'An alarm clock.' })
  t.deepEqual(names(r), [...TOOL_NAMES, 'set_alarm'])
  t.is(r.tools[3]?.description, 'An alarm clock.')
  t.deepEqual(r.training.added, ['set_alarm'])
})

test('a routeBatch already running checks arguments against the schemas it started with', async (t) => {
  const r = await freshCopy(await sharedRouter(), t)
  const texts = Array.from({ length: 400 }, () => 'what is the weather in Oslo')
  const alone = r.route(texts[0] ?? '', { threshold: 0 })
  t.is(alone.tool, 'get_weather')
  t.deepEqual(alone.missing, [])
  const pending = r.routeBatch(texts, { threshold: 0 })
  const weather = r.tools[0]
  if (weather === undefined) throw new Error('no tool')
  r.addTool({
    ...weather,
    parameters: { type: 'object', properties: { country: { type: 'string' } }, required: ['country'] },
  })
  const routes = await pending
  t.true(routes.every((x) => x.tool === 'get_weather' && x.missing.length === 0 && x.complete), JSON.stringify(routes[0]))
  t.deepEqual(r.route(texts[0] ?? '', { threshold: 0 }).missing, ['country'])
})

test('a routeBatch already running keeps the tools it started with', async (t) => {
  const r = await freshCopy(await sharedRouter(), t)
  const texts = Array.from({ length: 400 }, (_, i) => `wake me up at ${i % 12} am`)
  const pending = r.routeBatch(texts, { threshold: 0 })
  r.addTool(ALARM, ALARM_EXAMPLES)
  const routes = await pending
  t.true(routes.every((x) => x.tool !== 'set_alarm'))
  t.is(r.tools.length, 4)
})

test('bad addTool and removeTool calls throw INVALID_ARGUMENT and change nothing', async (t) => {
  const r = await freshCopy(await sharedRouter(), t)
  const bad: [() => void, string][] = [
    [() => r.removeTool('no_such_tool'), 'unknown name'],
    [() => r.addTool({ name: '' }), 'empty name'],
    [() => r.addTool({ name: 'x', parameters: 'none' as unknown as Record<string, unknown> }), 'schema not an object'],
    [() => r.addTool(ALARM, ['']), 'empty example'],
    [() => r.addTool(null as unknown as ToolSpec), 'not a spec'],
    [() => r.addTool(ALARM, [3] as unknown as string[]), 'example not a string'],
    [() => r.removeTool(7 as unknown as string), 'name not a string'],
  ]
  for (const [fn, why] of bad) {
    const e = t.throws(fn, undefined, why)
    assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  }
  t.deepEqual(names(r), TOOL_NAMES)
  r.removeTool('get_weather')
  r.removeTool('play_music')
  assertToolrouterError(t, t.throws(() => r.removeTool('set_timer')), 'INVALID_ARGUMENT')
})

test('a tool-space router routes to a tool added from its description alone, calibrated', async (t) => {
  const { router, held, heldTest } = await demoToolSpace()
  const r = await freshCopy(router, t)
  r.addTool(held)
  // Zero-shot recall on 16 requests swings with the seed (2 to 7 of 16 over seeds 1 to 6), so
  // it is summed over this router and two more seeds; chance is 1 in 14.
  const right = (x: Router): number => heldTest.filter((e) => x.route(e.text, { threshold: 0 }).tool === HELD).length
  let sum = right(r)
  for (const seed of [1, 2]) {
    const other = await new Trainer({ ...DEMO_OPTIONS, tools: router.tools, seed }).fit(await demoTrain())
    other.addTool(held)
    sum += right(other)
  }
  t.true(sum / (3 * heldTest.length) >= 0.2, `zero-shot: ${sum} of ${3 * heldTest.length} over 3 seeds`)
  // The calibrated threshold still applies: a request no tool serves goes to the LLM.
  t.is(r.route('tell me a joke').tool, null)
})

test('a few examples make an added tool win with a confident, calibrated route', async (t) => {
  const { router, held, heldTrain, heldTest } = await demoToolSpace()
  const r = await freshCopy(router, t)
  r.addTool(
    held,
    heldTrain.slice(0, 5).map((e) => e.text),
  )
  const routes = heldTest.map((e) => r.route(e.text, { threshold: 0 }))
  const right = routes.filter((x) => x.tool === HELD).length
  t.true(right / heldTest.length >= 0.5, `5-shot: ${right} of ${heldTest.length}`)
  // Routes at the calibrated threshold: a confident one clears it, the others abstain.
  for (const e of heldTest) {
    const x = r.route(e.text)
    if (x.tool === null) t.true(x.abstained)
    else t.true(x.confidence >= r.threshold)
  }
  // Out-of-scope requests are still left to the LLM (at most 3 of 25 more taken).
  const oos = (await loadExamples(path.join(DEMO, 'test.jsonl'), { tools: [...router.tools, held] })).filter(
    (e) => e.tool === null,
  )
  const left = (x: Router): number => oos.filter((e) => x.route(e.text).tool === null).length
  t.true(left(r) + 3 >= left(router), `out of scope left: ${left(router)} -> ${left(r)}`)
})
