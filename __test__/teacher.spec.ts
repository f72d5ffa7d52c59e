/**
 * Distillation from a sentence encoder (`teacher`), through the addon: a tiny random BERT written
 * here stands in for all-MiniLM-L6-v2 (90 MB, fetched by scripts/fetch-minilm.sh), so the whole
 * path runs without a download; docs/eval-distill.md has the real teacher's figures.
 */
import test from 'ava'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Trainer, type Progress, type TrainerOptions } from '../index.js'
import { assertToolrouterError, fixtureData, SMALL, tempDir } from './helpers.ts'

const HIDDEN = 8
const INTER = 16

/** A safetensors file of f32 tensors. */
function writeSafetensors(file: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): void {
  const header: Record<string, unknown> = {}
  let offset = 0
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }
    offset += t.data.byteLength
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const size = Buffer.alloc(8)
  size.writeBigUInt64LE(BigInt(json.length))
  const parts: Buffer[] = [size, Buffer.from(json)]
  for (const t of Object.values(tensors)) parts.push(Buffer.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)))
  fs.writeFileSync(file, Buffer.concat(parts))
}

/** A 1-layer, 8-wide BERT with seeded random weights and a WordPiece tokenizer over `words`. */
function tinyTeacher(dir: string, words: string[]): void {
  fs.mkdirSync(dir, { recursive: true })
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3 }
  for (const w of words) if (!(w in vocab)) vocab[w] = Object.keys(vocab).length
  const v = Object.keys(vocab).length
  fs.writeFileSync(
    path.join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    }),
  )
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      hidden_size: HIDDEN,
      intermediate_size: INTER,
      vocab_size: v,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      max_position_embeddings: 64,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    }),
  )
  let state = 12345
  const rand = (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => {
      state = (state * 1103515245 + 12345) % 2147483648
      return (state / 2147483648 - 0.5) * 1.5
    })
  const t: Record<string, { shape: number[]; data: Float32Array }> = {}
  const put = (name: string, shape: number[], data = rand(shape.reduce((a, b) => a * b, 1))): void => {
    t[name] = { shape, data }
  }
  put('embeddings.word_embeddings.weight', [v, HIDDEN])
  put('embeddings.position_embeddings.weight', [64, HIDDEN])
  put('embeddings.token_type_embeddings.weight', [2, HIDDEN])
  const layer = 'encoder.layer.0'
  for (const [n, o, i] of [
    ['attention.self.query', HIDDEN, HIDDEN],
    ['attention.self.key', HIDDEN, HIDDEN],
    ['attention.self.value', HIDDEN, HIDDEN],
    ['attention.output.dense', HIDDEN, HIDDEN],
    ['intermediate.dense', INTER, HIDDEN],
    ['output.dense', HIDDEN, INTER],
  ] as const) {
    put(`${layer}.${n}.weight`, [o, i])
    put(`${layer}.${n}.bias`, [o])
  }
  for (const n of ['embeddings.LayerNorm', `${layer}.attention.output.LayerNorm`, `${layer}.output.LayerNorm`]) {
    put(`${n}.weight`, [HIDDEN], new Float32Array(HIDDEN).fill(1))
    put(`${n}.bias`, [HIDDEN], new Float32Array(HIDDEN))
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), t)
}

test('training with a teacher embeds every text and copy, and the router routes without it', async (t) => {
  const { tools, train, test: examples } = await fixtureData()
  const dir = path.join(tempDir(t), 'teacher')
  tinyTeacher(dir, [...new Set(train.flatMap((e) => e.text.toLowerCase().split(/\W+/)).filter(Boolean))])
  const seen: Progress[] = []
  const options: TrainerOptions = { tools, ...SMALL, teacher: { dir, augment: 2, softWeight: 1 } }
  const router = await new Trainer(options).fit(train, { onProgress: (p) => seen.push(p) })
  const distill = seen.filter((p) => p.phase === 'distill')
  t.true(distill.length > 0, 'no distill progress')
  const last = distill[distill.length - 1]
  // The held-out validation share is not embedded: the texts trained on and 2 copies of each.
  t.is(last.step, last.stepsPerEpoch)
  t.is(last.stepsPerEpoch, router.training.examples * 3)
  // A router was trained on the labels alone too (SMALL holds a tenth out for validation); the
  // kept one is the better of the two there.
  const report = router.training.teacher
  if (report === null) return t.fail('no teacher report')
  t.is(report.used, report.valid_teacher > report.valid_labels)
  // The saved router does not need the teacher: gone from disk, the loaded copy routes the same.
  const file = path.join(tempDir(t), 'm.toolrouter')
  await router.save(file)
  fs.rmSync(dir, { recursive: true })
  const { Router } = await import('../index.js')
  const back = await Router.load(file)
  t.true((await back.evaluate(examples)).accuracy >= 0.85)
  t.deepEqual(back.route(examples[0].text), router.route(examples[0].text))
  t.deepEqual(back.training.teacher, report)
})

test('a missing teacher is MODEL_NOT_FOUND naming the file; bad teacher options are INVALID_ARGUMENT', async (t) => {
  const { tools, train } = await fixtureData()
  const gone = path.join(tempDir(t), 'no-teacher')
  const e = await t.throwsAsync(new Trainer({ tools, ...SMALL, teacher: { dir: gone } }).fit(train))
  assertToolrouterError(t, e, 'MODEL_NOT_FOUND')
  t.regex(e?.message ?? '', /config\.json/)
  const bad: unknown[] = [{}, { dir: gone, weight: -1 }, { dir: gone, augment: 1.5 }, { dir: gone, softWeight: Number.NaN }, 'x']
  for (const teacher of bad) {
    const err = await t.throwsAsync(new Trainer({ tools, ...SMALL, teacher } as unknown as TrainerOptions).fit(train))
    assertToolrouterError(t, err, 'INVALID_ARGUMENT')
    t.regex(err?.message ?? '', /teacher/)
  }
})

test('teacher files that disagree or are cut off are MODEL_INVALID before any training', async (t) => {
  const { tools, train } = await fixtureData()
  const words = [...new Set(train.flatMap((e) => e.text.toLowerCase().split(/\W+/)).filter(Boolean))]
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      'a tokenizer larger than vocab_size',
      (dir) => {
        const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>
        cfg.vocab_size = 4
        fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg))
      },
      /tokenizer\.json.*vocab_size/,
    ],
    [
      'max_position_embeddings 1',
      (dir) => {
        const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>
        cfg.max_position_embeddings = 1
        fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg))
      },
      /max_position_embeddings/,
    ],
    [
      'a truncated model.safetensors',
      (dir) => {
        const file = path.join(dir, 'model.safetensors')
        fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 200))
      },
      /model\.safetensors/,
    ],
  ]
  for (const [what, spoil, message] of cases) {
    const dir = path.join(tempDir(t), 'teacher')
    tinyTeacher(dir, words)
    spoil(dir)
    const phases: string[] = []
    // The first two used to be INTERNAL (an index out of range), the third came after a whole
    // labels-alone training run.
    const e = await t.throwsAsync(new Trainer({ tools, ...SMALL, teacher: { dir } }).fit(train, { onProgress: (p) => phases.push(p.phase) }))
    assertToolrouterError(t, e, 'MODEL_INVALID')
    t.regex(e?.message ?? '', message, what)
    t.deepEqual(phases, [], what)
  }
})
