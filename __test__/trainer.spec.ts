import test from 'ava'
import { Router, ToolrouterError, Trainer, type Progress, type TrainerOptions } from '../index.js'
import { assertToolrouterError, fixtureData, SMALL, tempDir, TOOL_NAMES, trainSmall } from './helpers.ts'

const PROBES = [
  'what is the weather in Bergen',
  'play songs by Nina Simone',
  'set a timer for 9 minutes',
  'tell me a joke please',
  '',
]

test('fit learns the fixture: 100% on its training set, ≥ 90% on test.jsonl', async (t) => {
  const { tools, train, test: examples } = await fixtureData()
  // validFraction: 0 trains on every row, so every row of train.jsonl must come out right.
  const router = await new Trainer({ tools, ...SMALL, validFraction: 0 }).fit(train)
  t.true(router instanceof Router)
  t.is(router.training.examples, train.length)
  t.is(router.training.valid_examples, 0)
  const onTrain = await router.evaluate(train)
  t.is(onTrain.accuracy, 1, JSON.stringify(onTrain.confusions))
  t.is(onTrain.overall_accuracy, 1, JSON.stringify(onTrain.confusions))
  const onTest = await router.evaluate(examples)
  t.true(onTest.accuracy >= 0.9, `test accuracy ${onTest.accuracy}`)
  t.true(onTest.overall_accuracy >= 0.9, `test overall accuracy ${onTest.overall_accuracy}`)
  t.true(router.training.train_seconds < 30)
})

test('fit with layers: 0 (n-gram bag only) also learns the fixture', async (t) => {
  const { train, test: examples } = await fixtureData()
  const router = await trainSmall({ layers: 0, validFraction: 0 })
  t.is(router.config.layers, 0)
  // n-gram dropout (80%) keeps even the training set from being memorised outright.
  t.true((await router.evaluate(train)).overall_accuracy >= 0.9)
  t.true((await router.evaluate(examples)).accuracy >= 0.9)
})

test('the same seed gives identical confidences; another seed does not', async (t) => {
  const a = await trainSmall({ seed: 123 })
  const b = await trainSmall({ seed: 123 })
  for (const text of PROBES) {
    const ra = a.route(text)
    const rb = b.route(text)
    t.is(rb.tool, ra.tool, text)
    t.is(rb.confidence, ra.confidence, text)
    t.deepEqual(rb.alternatives, ra.alternatives)
  }
  t.is(b.training.valid_loss, a.training.valid_loss)
  t.is(b.training.best_epoch, a.training.best_epoch)

  const c = await trainSmall({ seed: 124 })
  t.true(
    PROBES.some((text) => c.route(text).confidence !== a.route(text).confidence),
    'a different seed trains a different model',
  )
})

test('onProgress reports phases prepare, train and done with epoch and loss', async (t) => {
  const { tools, train } = await fixtureData()
  const events: Progress[] = []
  const router = await new Trainer({ tools, ...SMALL, epochs: 6, patience: 6 }).fit(train, {
    onProgress: (p) => events.push(p),
  })
  t.true(events.length >= 3, `${events.length} events`)
  for (const p of events) {
    t.true(['prepare', 'train', 'done'].includes(p.phase), p.phase)
    for (const k of ['epoch', 'epochs', 'step', 'stepsPerEpoch', 'loss', 'elapsedS'] as const) {
      t.is(typeof p[k], 'number', k)
      t.true(Number.isFinite(p[k]) && p[k] >= 0, `${k} = ${p[k]}`)
    }
    t.is(p.epochs, 6)
    t.true(p.epoch <= 6)
  }
  t.is(events[0].phase, 'prepare')
  t.is(events.at(-1)?.phase, 'done', 'fit resolves after the final event has been delivered')
  t.is(events.filter((p) => p.phase === 'done').length, 1)
  const trainEvents = events.filter((p) => p.phase === 'train')
  t.true(trainEvents.length >= router.training.epochs_run, 'at least one event per epoch')
  t.true(
    trainEvents.every((p) => p.epoch >= 1),
    'training epochs count from 1',
  )
  for (let i = 1; i < events.length; i++) {
    t.true(events[i].epoch >= events[i - 1].epoch, 'epochs never go back')
    t.true(events[i].elapsedS >= events[i - 1].elapsedS, 'time never goes back')
  }
  const endOfEpoch = trainEvents.filter((p) => p.step === p.stepsPerEpoch && p.validLoss !== undefined)
  t.deepEqual(
    endOfEpoch.map((p) => p.epoch),
    Array.from({ length: router.training.epochs_run }, (_, i) => i + 1),
  )
  for (const p of endOfEpoch) t.is(typeof p.validAccuracy, 'number', 'a validation share is held out')
  t.is(events.at(-1)?.epoch, router.training.epochs_run)
})

test('a throwing onProgress does not stop training', async (t) => {
  let calls = 0
  const { tools, train } = await fixtureData()
  const router = await new Trainer({ tools, ...SMALL }).fit(train, {
    onProgress: () => {
      calls++
      throw new Error('boom')
    },
  })
  t.true(calls > 1)
  t.is(router.route('play some music').tool, 'play_music')
})

test('aborting mid-training rejects with ABORTED', async (t) => {
  const { tools, train } = await fixtureData()
  const controller = new AbortController()
  const seen: Progress[] = []
  const started = Date.now()
  const e = await t.throwsAsync(
    () =>
      new Trainer({ tools, ...SMALL, epochs: 200, patience: 200 }).fit(train, {
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p)
          if (p.phase === 'train' && p.epoch >= 1) controller.abort()
        },
      }),
    { code: 'ABORTED' },
  )
  assertToolrouterError(t, e, 'ABORTED')
  t.true(controller.signal.aborted)
  t.true(
    seen.some((p) => p.phase === 'train' && p.epoch >= 1),
    'it was training when aborted',
  )
  t.false(
    seen.some((p) => p.phase === 'done'),
    'it never finished',
  )
  const lastEpoch = Math.max(...seen.map((p) => p.epoch))
  t.true(lastEpoch < 200, `stopped early, at epoch ${lastEpoch}`)
  t.log(`aborted after ${Date.now() - started} ms, at epoch ${lastEpoch}`)
  // The training thread stopped too: no progress arrives after the rejection.
  const count = seen.length
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.is(seen.length, count, 'no progress after the rejection')
})

test('an already-aborted signal rejects with ABORTED before training', async (t) => {
  const { tools, train } = await fixtureData()
  let calls = 0
  const e = await t.throwsAsync(
    () =>
      new Trainer({ tools, ...SMALL }).fit(train, {
        signal: AbortSignal.abort(),
        onProgress: () => calls++,
      }),
    { code: 'ABORTED' },
  )
  assertToolrouterError(t, e, 'ABORTED')
  t.is(calls, 0)
})

test('tools are inferred from the examples when omitted', async (t) => {
  const { train } = await fixtureData()
  const router = await new Trainer({ ...SMALL }).fit(train)
  t.deepEqual(
    router.tools.map((x) => x.name),
    TOOL_NAMES,
    'in order of first appearance, null rows left out',
  )
  for (const tool of router.tools) t.is(tool.description, '')
  t.is(router.config.has_none, true)
  t.is(router.route('play some music').tool, 'play_music')
  t.is(router.route('tell me a joke please').tool, null)
})

test('fit accepts a valid set and holds nothing out of train', async (t) => {
  const { tools, train, test: examples } = await fixtureData()
  const router = await new Trainer({ tools, ...SMALL }).fit(train, { valid: examples })
  t.is(router.training.examples, train.length)
  t.is(router.training.valid_examples, examples.length)
  t.is(typeof router.training.valid_accuracy, 'number')
  t.true((router.training.valid_accuracy as number) >= 0.9)
  const m = await router.evaluate(train)
  t.is(m.accuracy, 1)
  t.is(m.overall_accuracy, 1, 'every training row, the out-of-scope ones too')
})

test('out-of-scope validation rows train when the training rows have none', async (t) => {
  const { tools, train, test: examples } = await fixtureData()
  const inScope = train.filter((e) => e.tool !== null)
  const valid = [...examples.filter((e) => e.tool !== null), { text: 'tell me a joke', tool: null }]
  // Until 2026-12-07: INTERNAL (an index past the logits) after the first epoch.
  const router = await new Trainer({ tools, ...SMALL, epochs: 3 }).fit(inScope, { valid })
  t.true(router.training.warnings.some((w) => w.includes('out-of-scope rows')))
  t.true(Number.isFinite(router.training.valid_loss))
})

test('a learning rate that makes training diverge rejects with TRAINING_DIVERGED', async (t) => {
  const { tools, train } = await fixtureData()
  const e = await t.throwsAsync(new Trainer({ tools, ...SMALL, epochs: 2, lr: 1e6 }).fit(train))
  assertToolrouterError(t, e, 'TRAINING_DIVERGED')
})

test('fit accepts in-memory examples with args and spans', async (t) => {
  const { tools, train } = await fixtureData()
  const extra = [
    {
      text: 'weather in Oslo',
      tool: 'get_weather',
      args: { city: 'Oslo' },
      spans: [{ name: 'city', start: 11, end: 15 }],
    },
    { text: 'play jazz', tool: 'play_music' },
  ]
  const router = await new Trainer({ tools, ...SMALL, epochs: 3 }).fit([...train, ...extra])
  t.is(router.training.examples + router.training.valid_examples, train.length + extra.length)
})

const BAD_OPTIONS: [string, TrainerOptions][] = [
  ["device: 'tpu'", { device: 'tpu' as TrainerOptions['device'] }],
  ['batchSize: 0', { batchSize: 0 }],
  ['lr: 0', { lr: 0 }],
  ['lr: NaN', { lr: Number.NaN }],
  ['validFraction: 1', { validFraction: 1 }],
  ['labelSmoothing: 1', { labelSmoothing: 1 }],
  ['valueSwap: 1.5', { valueSwap: 1.5 }],
  ['valueSwapAny: 2', { valueSwapAny: 2 }],
  ['repeatedArgShare: -0.1', { repeatedArgShare: -0.1 }],
  ['valueSwapRepeated: "no"', { valueSwapRepeated: 'no' as unknown as boolean }],
  ['tagWeight: -1', { tagWeight: -1 }],
  ['vocabSize: 2', { vocabSize: 2 }],
  ['maxTokens: 1', { maxTokens: 1 }],
  ['heads not dividing dModel', { dModel: 30, heads: 4 }],
  ['epochs: -1', { epochs: -1 }],
  ["epochs: '3'", { epochs: '3' as unknown as number }],
  ["wordShapes: 'yes'", { wordShapes: 'yes' as unknown as boolean }],
]

for (const [name, options] of BAD_OPTIONS) {
  test(`bad option ${name} rejects with INVALID_ARGUMENT`, async (t) => {
    const { tools, train } = await fixtureData()
    const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL, ...options }).fit(train), {
      code: 'INVALID_ARGUMENT',
    })
    assertToolrouterError(t, e, 'INVALID_ARGUMENT')
  })
}

test('bad arguments to Trainer and fit throw INVALID_ARGUMENT', async (t) => {
  const { tools, train } = await fixtureData()
  t.throws(() => new Trainer(null as unknown as TrainerOptions), {
    code: 'INVALID_ARGUMENT',
    instanceOf: ToolrouterError,
  })
  const trainer = new Trainer({ tools, ...SMALL })
  await t.throwsAsync(() => trainer.fit('train.jsonl' as never), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => trainer.fit([]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => new Trainer({ ...SMALL }).fit([]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => new Trainer({ ...SMALL }).fit([{ text: 'hello', tool: null }]), {
    code: 'INVALID_ARGUMENT',
  })
  await t.throwsAsync(() => trainer.fit([{ text: 5, tool: 'play_music' }] as never), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => trainer.fit(train, { valid: [{ text: 'x', tool: 7 }] as never }), {
    code: 'INVALID_ARGUMENT',
  })
  const unknown = await t.throwsAsync(() => trainer.fit([...train, { text: 'email Bob', tool: 'send_email' }]), {
    code: 'INVALID_ARGUMENT',
  })
  t.true(unknown?.message.includes('send_email'), unknown?.message)
  await t.throwsAsync(() => trainer.fit(train, { valid: [{ text: 'email Bob', tool: 'send_email' }] }), {
    code: 'INVALID_ARGUMENT',
  })
  await t.throwsAsync(() => new Trainer({ ...SMALL, tools: [...tools, { name: 'get_weather' }] }).fit(train), {
    code: 'INVALID_ARGUMENT',
  })
})

test("device: 'cuda' on a CPU build rejects with DEVICE_UNAVAILABLE", async (t) => {
  const { tools, train } = await fixtureData()
  const e = await t.throwsAsync(() => new Trainer({ tools, ...SMALL, device: 'cuda' }).fit(train), {
    code: 'DEVICE_UNAVAILABLE',
  })
  assertToolrouterError(t, e, 'DEVICE_UNAVAILABLE')
  t.true(e?.message.includes('cuda'), e?.message)
})

test("device: 'cpu' and 'auto' train", async (t) => {
  for (const device of ['cpu', 'auto'] as const) {
    const router = await trainSmall({ device, epochs: 3 })
    t.true(router instanceof Router)
  }
})

test('a tool with no examples gives a warning', async (t) => {
  const { tools, train } = await fixtureData()
  const email = { name: 'send_email', description: 'Send an email.', parameters: { type: 'object', properties: {} } }
  const router = await new Trainer({ ...SMALL, tools: [...tools, email] }).fit(train)
  t.deepEqual(
    router.tools.map((x) => x.name),
    [...TOOL_NAMES, 'send_email'],
  )
  const about = router.training.warnings.filter((w) => w.includes('send_email'))
  t.is(about.length, 1, router.training.warnings.join('\n'))
  t.true(about[0].includes('no training examples'), about[0])
  t.is(router.route('play some music').tool, 'play_music')
})

test('the Trainer keeps a copy of its options', (t) => {
  const options: TrainerOptions = { ...SMALL }
  const trainer = new Trainer(options)
  options.epochs = 1
  t.is(trainer.options.epochs, SMALL.epochs)
})

test('fit with init continues from a saved router: a new tool joins, the old ones stay', async (t) => {
  const { train, test: held } = await fixtureData()
  const base = await trainSmall()
  const file = `${tempDir(t)}/base.safetensors`
  await base.save(file)
  const loaded = await Router.load(file)
  const names = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fern', 'Gil', 'Hugo', 'Ines', 'Jon']
  const emails = names.flatMap((n) => [
    { text: `send an email to ${n}`, tool: 'send_email', args: { to: n } },
    { text: `write a mail to ${n} about lunch`, tool: 'send_email', args: { to: n } },
  ])
  // No tools option: send_email is inferred, the old tools come from `init`.
  const next = await new Trainer({ ...SMALL }).fit(emails, { init: loaded })
  t.deepEqual(
    next.tools.map((x) => x.name),
    [...TOOL_NAMES, 'send_email'],
  )
  t.deepEqual(next.tools.slice(0, TOOL_NAMES.length), loaded.tools, 'old schemas kept')
  t.true(next.training.replayed > 0, 'examples kept in the file were replayed')
  t.is(next.route('send an email to Kim').tool, 'send_email')
  const old = await next.evaluate(held)
  t.true(old.accuracy >= 0.9, `old tools on test.jsonl: ${old.accuracy}`)
  const seen = await next.evaluate(train)
  t.true(seen.accuracy >= 0.95, `old tools on train.jsonl: ${seen.accuracy}`)
  await t.throwsAsync(() => new Trainer().fit(emails, { init: {} as Router }), { code: 'INVALID_ARGUMENT' })
  // More examples of the router's own tools only: no tool to add, and none needed.
  const more = await new Trainer({ ...SMALL }).fit(train.slice(0, 20), { init: next })
  t.deepEqual(
    more.tools.map((x) => x.name),
    [...TOOL_NAMES, 'send_email'],
  )
})

test('an async onProgress that rejects does not stop training or the process', async (t) => {
  const { train, tools } = await fixtureData()
  let calls = 0
  const router = await new Trainer({ ...SMALL, tools, epochs: 3 }).fit(train, {
    onProgress: async () => {
      calls++
      throw new Error('async boom')
    },
  })
  t.true(calls > 0)
  t.is(router.tools.length, TOOL_NAMES.length)
})
