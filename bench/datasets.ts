// The shared datasets (SNIPS, ATIS, CLINC150) as the benches read them: `--data DIR` (default
// ../shared/datasets or $TOOLROUTER_DATASETS), one folder per dataset with tools.json,
// train.jsonl, valid.jsonl (optional) and test.jsonl. Absent data is skipped with a message.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { loadExamples, loadTools, type Example, type ToolSpec } from '../index'

export const DATASETS = ['snips', 'atis', 'clinc150']

export const DEFAULT_DATA_DIR = process.env.TOOLROUTER_DATASETS ?? path.join(__dirname, '..', '..', 'shared', 'datasets')

export interface Dataset {
  name: string
  tools: ToolSpec[]
  train: Example[]
  valid: Example[] | undefined
  test: Example[]
}

/** False (with a message on stderr) when `dir` does not exist. */
export function haveDatasets(dir: string): boolean {
  if (fs.existsSync(dir)) return true
  console.error(`skipped: no datasets at ${dir} (pass --data DIR or set TOOLROUTER_DATASETS)`)
  return false
}

/** One dataset, or undefined (with a message on stderr) when its folder is incomplete. */
export async function loadDataset(dir: string, name: string): Promise<Dataset | undefined> {
  const d = path.join(dir, name)
  if (!fs.existsSync(path.join(d, 'train.jsonl'))) {
    console.error(`skipped ${name}: no ${path.join(d, 'train.jsonl')}`)
    return undefined
  }
  const tools = await loadTools(path.join(d, 'tools.json'))
  const train = await loadExamples(path.join(d, 'train.jsonl'), { tools })
  const valid = fs.existsSync(path.join(d, 'valid.jsonl'))
    ? await loadExamples(path.join(d, 'valid.jsonl'), { tools })
    : undefined
  const test = await loadExamples(path.join(d, 'test.jsonl'), { tools })
  return { name, tools, train, valid, test }
}

/** The first `n` training examples of each label (out of scope included), as train_eval per_tool=N. */
export function perTool(train: Example[], n: number): Example[] {
  const seen = new Map<string | null, number>()
  return train.filter((e) => {
    const c = (seen.get(e.tool) ?? 0) + 1
    seen.set(e.tool, c)
    return c <= n
  })
}
