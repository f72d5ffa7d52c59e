/**
 * Typed, validated arguments as a user sees them: values converted to the schema's types,
 * `missing` / `invalid` / `complete`, ajv's extra checks, `args_exact` in evaluate. The conversion
 * rules themselves are unit-tested in Rust (typed.rs).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { Router, Trainer, type ToolSpec } from '../index.js'
import { fixtureData, SMALL, sharedRouter } from './helpers.ts'

test('a number argument comes back as a number', async (t) => {
  const router = await sharedRouter()
  const r = router.route('set a timer for 25 minutes')
  t.is(r.tool, 'set_timer')
  t.is(r.args.duration_minutes, 25)
  t.deepEqual(r.missing, [])
  t.deepEqual(r.invalid, [])
  t.true(r.complete)
})

test('a call without its required argument is incomplete and names what is missing', async (t) => {
  const router = await sharedRouter()
  const r = router.route('start a timer please', { threshold: 0 })
  t.is(r.tool, 'set_timer')
  t.false('duration_minutes' in r.args)
  t.deepEqual(r.missing, ['duration_minutes'])
  t.false(r.complete)
})

test('fillMargin: a missing required argument is filled only with a value of its type, and null turns filling off', async (t) => {
  // A copy of the shared router, so that the other tests keep the default margin.
  const file = join(mkdtempSync(join(tmpdir(), 'toolrouter-fill-')), 'm.toolrouter')
  await (await sharedRouter()).save(file)
  const router = await Router.load(file)
  t.is(router.fillMargin, 1)
  // "3" is the only word of the integer's type ("a" was one, read as 1, until numbers needed
  // their whole text).
  const text = 'start the timer for my 3 eggs'
  router.fillMargin = null
  t.is(router.fillMargin, null)
  t.deepEqual(router.route(text, { threshold: 0 }).missing, ['duration_minutes'])
  router.fillMargin = Infinity
  const r = router.route(text, { threshold: 0 })
  t.is(r.tool, 'set_timer')
  t.true(Number.isInteger(r.args.duration_minutes), JSON.stringify(r.args))
  t.deepEqual(r.missing, [])
  t.true(r.complete)
  for (const bad of [-1, Number.NaN, '1' as unknown as number]) {
    t.throws(() => (router.fillMargin = bad), { code: 'INVALID_ARGUMENT' })
  }
  t.is(router.fillMargin, Infinity)
})

test('an abstention is never complete', async (t) => {
  const router = await sharedRouter()
  const r = router.route('set a timer for 25 minutes', { threshold: 1 })
  t.true(r.abstained)
  t.false(r.complete)
  t.deepEqual(r.missing, [])
})

test('ajv checks what the types alone do not: a maximum in the schema', async (t) => {
  const { tools, train } = await fixtureData()
  // The same tools, but a timer is at most 30 minutes.
  const strict: ToolSpec[] = tools.map((tool) =>
    tool.name === 'set_timer'
      ? {
          ...tool,
          parameters: {
            type: 'object',
            properties: { duration_minutes: { type: 'integer', maximum: 30 }, label: { type: 'string' } },
            required: ['duration_minutes'],
          },
        }
      : tool,
  )
  const router = await new Trainer({ ...SMALL, tools: strict }).fit(train)
  const long = router.route('set a timer for 45 minutes')
  t.is(long.tool, 'set_timer')
  t.is(long.args.duration_minutes, 45)
  t.deepEqual(long.invalid, ['duration_minutes'])
  t.false(long.complete)
  const short = router.route('set a timer for 25 minutes')
  t.is(short.args.duration_minutes, 25)
  t.deepEqual(short.invalid, [])
  t.true(short.complete)
  const [batched] = await router.routeBatch(['set a timer for 45 minutes'])
  t.deepEqual(batched.invalid, ['duration_minutes'], 'routeBatch validates too')
})

test('ajv checks formats; an error on the whole object names no argument but leaves the call incomplete', async (t) => {
  const { tools, train } = await fixtureData()
  const withSchema = (name: string, parameters: Record<string, unknown>): ToolSpec[] =>
    tools.map((tool) => (tool.name === name ? { ...tool, parameters } : tool))
  // A "city" that must be an e-mail address: "Oslo" is not one.
  const email = withSchema('get_weather', {
    type: 'object',
    properties: { city: { type: 'string', format: 'email' }, date: { type: 'string' } },
    required: ['city'],
  })
  const router = await new Trainer({ ...SMALL, tools: email }).fit(train)
  const r = router.route('will it rain in Oslo tomorrow?', { threshold: 0 })
  t.is(r.tool, 'get_weather')
  t.is(r.args.city, 'Oslo')
  t.deepEqual(r.invalid, ['city'])
  t.false(r.complete)
  // At least five arguments: no argument is to blame, none is missing.
  const many = withSchema('set_timer', {
    type: 'object',
    properties: { duration_minutes: { type: 'integer' }, label: { type: 'string' } },
    required: ['duration_minutes'],
    minProperties: 5,
  })
  const timer = (await new Trainer({ ...SMALL, tools: many }).fit(train)).route('set a timer for 25 minutes')
  t.is(timer.tool, 'set_timer')
  t.deepEqual([timer.invalid, timer.missing, timer.complete], [[], [], false])
})

test('evaluate reports args_exact', async (t) => {
  const router = await sharedRouter()
  const { test: examples } = await fixtureData()
  const m = await router.evaluate(examples)
  t.true(typeof m.args_exact === 'number' && m.args_exact > 0 && m.args_exact <= 1, `args_exact ${String(m.args_exact)}`)
  t.true((m.args_exact ?? 1) <= m.accuracy + 1e-9, 'exact arguments need the right tool')
})
