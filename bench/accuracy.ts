// Trains the default ToolController on each shared dataset (SNIPS, ATIS, CLINC150) and reports
// test accuracy and training time: the foundation's accuracy bar. The datasets are read from
// `--data DIR` (default ../shared/datasets, or $TOOLROUTER_DATASETS); absent data is skipped
// with a message. Usage: npm run accuracy [-- --data DIR] [--only snips,atis] [--json]
import * as os from 'node:os'
import { parseArgs } from 'node:util'
import { Trainer, type TrainerOptions } from '../index'
import { DATASETS, DEFAULT_DATA_DIR, haveDatasets, loadDataset } from './datasets'

interface Row {
  dataset: string
  train_examples: number
  test_examples: number
  accuracy: number
  macro_f1: number
  oos_recall: number | null
  train_s: number
  best_epoch: number
  epochs_run: number
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      options: { type: 'string' },
    },
  })
  const dir = values.data as string
  if (!haveDatasets(dir)) return
  const wanted = values.only ? (values.only as string).split(',') : DATASETS
  const extra = values.options ? (JSON.parse(values.options as string) as TrainerOptions) : {}
  const rows: Row[] = []
  for (const name of wanted) {
    const data = await loadDataset(dir, name)
    if (data === undefined) continue
    const { tools, train, valid, test } = data
    const t0 = performance.now()
    const router = await new Trainer({ tools, ...extra }).fit(train, {
      valid,
      onProgress: (p) => {
        if (!values.json && p.validAccuracy !== undefined)
          console.error(`  ${name} epoch ${p.epoch}: valid ${(100 * p.validAccuracy).toFixed(2)}%  ${p.elapsedS.toFixed(0)} s`)
      },
    })
    const trainS = (performance.now() - t0) / 1000
    const m = await router.evaluate(test)
    rows.push({
      dataset: name,
      train_examples: train.length,
      test_examples: test.length,
      accuracy: m.accuracy,
      macro_f1: m.macro_f1,
      oos_recall: m.oos_recall ?? null,
      train_s: trainS,
      best_epoch: router.training.best_epoch,
      epochs_run: router.training.epochs_run,
    })
  }
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`
  if (values.json) {
    console.log(JSON.stringify({ machine, options: extra, rows }))
    return
  }
  console.log(`\nmachine: ${machine}`)
  console.log('| dataset | test accuracy (in-scope) | macro F1 | train time | epochs (best) |')
  console.log('|---|---|---|---|---|')
  for (const r of rows) {
    console.log(
      `| ${r.dataset} | ${(100 * r.accuracy).toFixed(2)}% | ${(100 * r.macro_f1).toFixed(2)}% | ${r.train_s.toFixed(0)} s | ${r.epochs_run} (${r.best_epoch}) |`,
    )
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
