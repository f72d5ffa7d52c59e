// The teacher of issue 9 as a router of its own, and the peer of `npm run bench -- --peers`:
// all-MiniLM-L6-v2 sentence embeddings of the training utterances and a nearest-neighbour
// lookup (semantic-router style), crates/toolrouter-core/examples/minilm_peer.rs built and run
// through cargo. Skipped, with the reason, when the weights (scripts/fetch-minilm.sh) or the
// dataset are absent.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

export interface TeacherResult {
  peer: string
  dataset: string
  in_scope_accuracy: number
  test_in_scope: number
  index_utterances: number
  per_tool: number | null
  index_seconds: number
  route_p50_us: number
  route_p99_us: number
}

/** The teacher's nearest-neighbour accuracy and batch-1 latency on `dataDir/name`, or null. */
export function runTeacher(
  dataDir: string,
  name: string,
  log: (s: string) => void,
  perTool?: number,
): TeacherResult | null {
  const root = path.join(__dirname, '..')
  const model = path.join(root, '.cache', 'minilm')
  if (!fs.existsSync(path.join(model, 'model.safetensors'))) {
    log(`skipped the MiniLM nearest-neighbour router: no weights in ${model} (run scripts/fetch-minilm.sh)`)
    return null
  }
  const data = path.join(dataDir, name)
  if (!fs.existsSync(data)) {
    log(`skipped the MiniLM nearest-neighbour router on ${name}: no ${data}`)
    return null
  }
  log(`MiniLM nearest neighbour on ${name}${perTool ? ` (${perTool} per tool)` : ''} (a few minutes)…`)
  const args = ['run', '--quiet', '--release', '-p', 'toolrouter-core', '--example', 'minilm_peer', '--', model, data]
  if (perTool) args.push(`per_tool=${perTool}`)
  const out = execFileSync('cargo', args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 << 20,
  })
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as TeacherResult
}
