#!/usr/bin/env node
// Proves that `npm install toolrouter` works without Rust: packs the main package and this
// platform's binary package (npm/<platform>/ plus the built addon, as `napi artifacts` does before
// publishing), installs both tarballs into a fresh project with cargo removed from PATH, and there
// runs the CLI (train on the bundled demo data, route), the API from an ES module and from a
// CommonJS file, and `tsc --strict` on a consumer file. Also checks that the tarball holds only
// what a user needs, and that a missing binary gives the BINARY_NOT_FOUND error naming the
// platform. Prints one JSON summary line last; exits non-zero on the first failed check.
//
// Usage: node scripts/pack-install.js [--keep]   (run `node scripts/ensure-built.js` first: it
// needs the addon and the compiled TypeScript)
'use strict'
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const keep = process.argv.includes('--keep')
const started = Date.now()

function fail(message) {
  console.error(`pack-install: FAIL: ${message}`)
  process.exit(1)
}

function check(ok, message) {
  if (!ok) fail(message)
  console.error(`pack-install: ok: ${message}`)
}

/** PATH without any folder that holds cargo or rustc: the install and use must not need them. */
function pathWithoutRust() {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((d) => d && !['cargo', 'rustc', 'cargo.exe'].some((b) => fs.existsSync(path.join(d, b))))
    .join(path.delimiter)
}

const env = { ...process.env, PATH: pathWithoutRust(), npm_config_audit: 'false', npm_config_fund: 'false' }
for (const k of ['CARGO', 'CARGO_HOME', 'RUSTUP_HOME', 'RUSTC', 'NAPI_RS_NATIVE_LIBRARY_PATH']) delete env[k]

function run(cmd, args, cwd, opts = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20, ...opts })
  if (r.status !== 0 && !opts.allowFail) {
    fail(`\`${cmd} ${args.join(' ')}\` in ${cwd} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  }
  return r
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
// The package's own loader code (compiled by ensure-built) names the platform and the supported list.
const { currentPlatform, SUPPORTED_PLATFORMS } = require('../ts/binding.js')
const plat = currentPlatform()
const addon = path.join(root, `${pkg.napi.binaryName}.${plat}.node`)
if (!fs.existsSync(addon)) fail(`${addon} is missing: run \`node scripts/ensure-built.js\` first`)
const platDir = path.join(root, 'npm', plat)
if (!fs.existsSync(platDir)) fail(`npm/${plat} is missing: no platform package for this machine`)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toolrouter-pack-'))
const summary = { platform: plat }
try {
  // 1. What the main tarball holds.
  const dry = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8' }))[0]
  const files = dry.files.map((f) => f.path)
  const stray = files.filter(
    (f) =>
      /^(target|crates|__test__|bench|examples|scripts|npm|docs|node_modules)\//.test(f) ||
      f.endsWith('.node') ||
      f.endsWith('.ts') && !f.endsWith('.d.ts') ||
      (f.startsWith('data/') && !f.startsWith('data/demo/')),
  )
  check(stray.length === 0, `the tarball holds only what a user needs (${files.length} files)${stray.length ? `; stray: ${stray.join(', ')}` : ''}`)
  for (const need of ['index.js', 'index.d.ts', 'cli.js', 'native.js', 'NOTICE', 'LICENSE', 'data/demo/train.jsonl', 'data/demo/tools.json']) {
    check(files.includes(need), `the tarball has ${need}`)
  }
  const platPkg = JSON.parse(fs.readFileSync(path.join(platDir, 'package.json'), 'utf8'))
  check(platPkg.version === pkg.version, `npm/${plat} has the main package's version ${pkg.version}`)
  // npm refuses a provenance publish (E422) whose manifest names no repository.
  check(typeof pkg.repository?.url === 'string' && platPkg.repository?.url === pkg.repository.url, `package.json and npm/${plat} name the same repository`)
  check(fs.existsSync(path.join(platDir, 'LICENSE')) && platPkg.files.includes('LICENSE'), `npm/${plat} ships the LICENSE`)

  // 2. Pack the main package as `napi prepublish` publishes it: the files above, and a manifest
  // that lists every platform package as an optional dependency (the repository's own
  // package.json does not, as in the napi-rs template: `npm ci` would look for them in the
  // registry before they are published). Then this platform's package, the addon copied in
  // as `napi artifacts` does.
  const packs = path.join(tmp, 'packs')
  fs.mkdirSync(packs)
  const mainStage = path.join(tmp, 'stage', 'toolrouter')
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(mainStage, f)), { recursive: true })
    fs.copyFileSync(path.join(root, f), path.join(mainStage, f))
  }
  const published = { ...pkg, optionalDependencies: {} }
  for (const dir of fs.readdirSync(path.join(root, 'npm'))) {
    const p = JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8'))
    published.optionalDependencies[p.name] = p.version
  }
  check(Object.keys(published.optionalDependencies).length === pkg.napi.targets.length, `one optional dependency per napi target (${pkg.napi.targets.length})`)
  fs.writeFileSync(path.join(mainStage, 'package.json'), JSON.stringify(published, null, 2))
  run(npm, ['pack', '--pack-destination', packs], mainStage)
  const stage = path.join(tmp, 'stage', plat)
  fs.mkdirSync(stage, { recursive: true })
  for (const f of fs.readdirSync(platDir)) fs.copyFileSync(path.join(platDir, f), path.join(stage, f))
  fs.copyFileSync(addon, path.join(stage, path.basename(addon)))
  run(npm, ['pack', '--pack-destination', packs], stage)
  const mainTgz = path.join(packs, `toolrouter-${pkg.version}.tgz`)
  const platTgz = path.join(packs, `toolrouter-${plat}-${pkg.version}.tgz`)
  check(fs.existsSync(mainTgz) && fs.existsSync(platTgz), 'both tarballs packed')

  // 3. A fresh project installs them, with no Rust on PATH.
  check(spawnSync('cargo', ['--version'], { env }).status !== 0, 'cargo is not on PATH for the install and use')
  const app = path.join(tmp, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }))
  run(npm, ['install', '--prefer-offline', '--no-save', mainTgz, platTgz], app)
  const installed = path.join(app, 'node_modules')
  check(fs.existsSync(path.join(installed, `toolrouter-${plat}`, path.basename(addon))), 'the binary package is installed')
  check(!fs.existsSync(path.join(installed, 'toolrouter', path.basename(addon))), 'the main package carries no binary')
  // The addon holds the pretrained MiniLM table: the Apache-2.0 attribution travels with it.
  check(fs.existsSync(path.join(installed, `toolrouter-${plat}`, 'NOTICE')), 'the binary package carries the NOTICE')

  // 4. The CLI: train on the bundled demo data, then route.
  const bin = path.join(installed, '.bin', process.platform === 'win32' ? 'toolrouter.cmd' : 'toolrouter')
  const demo = path.join(installed, 'toolrouter', 'data', 'demo')
  const version = run(bin, ['--version'], app).stdout.trim()
  check(version === pkg.version, `toolrouter --version prints ${version}`)
  const model = path.join(app, 'demo.trm')
  const trained = run(bin, ['train', '--train', path.join(demo, 'train.jsonl'), '--tools', path.join(demo, 'tools.json'), '--out', model, '--epochs', '8', '--json'], app)
  const done = trained.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'done')
  check(done !== undefined && fs.existsSync(model), 'toolrouter train writes a model and a "done" event')
  const routed = run(bin, ['route', '--model', model, '--json', 'will it rain in Oslo tomorrow?'], app)
  const route = JSON.parse(routed.stdout.trim().split('\n')[0])
  check(route.tool === 'get_weather', `toolrouter route answers ${route.tool}`)
  summary.cli_route = { tool: route.tool, confidence: route.confidence }

  // 5. The API from an ES module and from a CommonJS file.
  const api = (req) => `
    const r = await Router.load(${JSON.stringify(model)})
    const out = r.route('will it rain in Oslo tomorrow?')
    if (!(typeof Trainer === 'function' && typeof loadExamples === 'function')) throw new Error('exports')
    console.log(JSON.stringify({ tool: out.tool, kind: ${JSON.stringify(req)} }))`
  fs.writeFileSync(path.join(app, 'esm.mjs'), `import { Router, Trainer, loadExamples } from 'toolrouter'\n${api('esm')}\n`)
  fs.writeFileSync(
    path.join(app, 'cjs.cjs'),
    `const { Router, Trainer, loadExamples } = require('toolrouter')\n;(async () => {${api('cjs')}\n})().catch((e) => { console.error(e); process.exit(1) })\n`,
  )
  for (const f of ['esm.mjs', 'cjs.cjs']) {
    const out = JSON.parse(run(process.execPath, [f], app).stdout.trim())
    check(out.tool === 'get_weather', `the API works from ${f}`)
  }

  // 6. A consumer type-checks with tsc --strict (ES module resolution through `exports`).
  fs.writeFileSync(
    path.join(app, 'consumer.mts'),
    `import { Router, Trainer, ToolrouterError, loadExamples, type Route, type Example, type ToolSpec } from 'toolrouter'
const tools: ToolSpec[] = [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } }]
const train: Example[] = await loadExamples('train.jsonl')
const router: Router = await new Trainer({ tools, seed: 1 }).fit(train)
const r: Route = router.route('hi', { threshold: 0.5 })
const tool: string | null = r.tool
const conf: number = r.confidence
try { await Router.load('x') } catch (e) { if (e instanceof ToolrouterError) { const c: string = e.code; void c } }
export { tool, conf }
`,
  )
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules', '@types')],
        skipLibCheck: false,
      },
      files: ['consumer.mts'],
    }),
  )
  const tsc = run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app, { allowFail: true })
  check(tsc.status === 0, `tsc --strict type-checks a consumer file${tsc.status ? `\n${tsc.stdout}${tsc.stderr}` : ''}`)

  // 7. Without the binary package: a clear error naming the platform and the supported list.
  const bare = path.join(tmp, 'bare')
  fs.mkdirSync(bare)
  fs.writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true, version: '1.0.0' }))
  run(npm, ['install', '--prefer-offline', '--no-save', '--omit=optional', mainTgz], bare)
  const missing = run(
    process.execPath,
    ['-e', "try { require('toolrouter') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"],
    bare,
  )
  const err = JSON.parse(missing.stdout.trim() || '{}')
  check(err.code === 'BINARY_NOT_FOUND', `a missing binary throws BINARY_NOT_FOUND`)
  check(
    typeof err.message === 'string' && err.message.includes(plat) && err.message.includes(SUPPORTED_PLATFORMS.join(', ')),
    `its message names ${plat} and the supported platforms`,
  )

  // Installed size, as the README states it.
  const du = (p) => {
    const s = fs.statSync(p)
    return s.isDirectory() ? fs.readdirSync(p).reduce((a, f) => a + du(path.join(p, f)), 0) : s.size
  }
  summary.installed_bytes = {
    toolrouter: du(path.join(installed, 'toolrouter')),
    [`toolrouter-${plat}`]: du(path.join(installed, `toolrouter-${plat}`)),
    node_modules: du(installed),
  }
  summary.tarball_bytes = { toolrouter: fs.statSync(mainTgz).size, [`toolrouter-${plat}`]: fs.statSync(platTgz).size }
  summary.seconds = Math.round((Date.now() - started) / 1000)
  summary.ok = true
  console.log(JSON.stringify(summary))
} finally {
  if (keep) console.error(`pack-install: kept ${tmp}`)
  else fs.rmSync(tmp, { recursive: true, force: true })
}
