import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

// The whole check lives in scripts/pack-install.js (a user can run it by hand); each of its
// steps fails the script with a message naming what broke.
test('the packed tarballs install without Rust and work from the CLI, ESM, CommonJS and tsc --strict', (t) => {
  const r = spawnSync(process.execPath, ['scripts/pack-install.js'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  t.is(r.status, 0, `${r.stderr}\n${r.stdout}`)
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
    ok?: boolean
    cli_route?: { tool: string }
    installed_bytes?: Record<string, number>
  }
  t.true(summary.ok)
  t.is(summary.cli_route?.tool, 'get_weather')
  t.log(JSON.stringify(summary.installed_bytes))
})
