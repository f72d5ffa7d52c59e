// Builds what `npm run demo`, `npm test` and `npm run bench` need, when it is missing or older
// than its sources: the native addon (cargo, through @napi-rs/cli) and the TypeScript output.
// Users installing from npm never run this: they get a prebuilt binary.
'use strict'
const { execSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

function newest(dir, exts) {
  let t = 0
  if (!fs.existsSync(dir)) return t
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'target') t = Math.max(t, newest(p, exts))
    } else if (exts.some((x) => e.name.endsWith(x)) && !e.name.endsWith('.d.ts')) {
      // .d.ts files are tsc's output (written after index.js), not its sources.
      t = Math.max(t, fs.statSync(p).mtimeMs)
    }
  }
  return t
}

function mtime(p) {
  return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0
}

function run(cmd) {
  console.error(`> ${cmd}`)
  execSync(cmd, { cwd: root, stdio: 'inherit' })
}

const addons = fs.readdirSync(root).filter((f) => /^toolrouter\..*\.node$/.test(f))
const addonTime = Math.min(...addons.map((f) => mtime(path.join(root, f))), Infinity)
// The addon also compiles in the lock file's dependency versions and the static MiniLM table
// (include_bytes! of crates/toolrouter-core/assets).
const rustTime = Math.max(
  newest(path.join(root, 'crates'), ['.rs', '.toml', '.safetensors']),
  mtime(path.join(root, 'Cargo.toml')),
  mtime(path.join(root, 'Cargo.lock')),
)
if (addons.length === 0 || addonTime < rustTime) {
  console.error(addons.length === 0 ? 'Building the native addon (first time: a few minutes)…' : 'Rust sources changed: rebuilding the native addon…')
  run('npx napi build --platform --release --manifest-path crates/toolrouter-node/Cargo.toml --output-dir . --js native.js --dts native.d.ts')
}
const tsTime = Math.max(
  mtime(path.join(root, 'index.ts')),
  mtime(path.join(root, 'cli.ts')),
  newest(path.join(root, 'ts'), ['.ts']),
  newest(path.join(root, 'examples'), ['.ts']),
  newest(path.join(root, 'bench'), ['.ts']),
  mtime(path.join(root, 'native.d.ts')),
)
if (mtime(path.join(root, 'index.js')) < tsTime || mtime(path.join(root, 'cli.js')) < tsTime) {
  run('npx tsc')
}
