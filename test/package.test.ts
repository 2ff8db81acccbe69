// The package as a user gets it: `npm pack`, installed into a fresh project,
// both entry points imported, the binary run, and the README's example
// type-checked there under strict with module nodenext.

import { strict as assert } from 'node:assert'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
/** Bounds on each step: the registry is only asked for what the cache lacks. */
const PACK_TIMEOUT_MS = 120_000
const INSTALL_TIMEOUT_MS = 240_000

let project: string
let tarball: string
let installed: string

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } })
  if (result.error !== undefined) throw result.error
  return result
}

function npm(args: readonly string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  return run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd, timeoutMs)
}

/** The first ```ts block of the README that holds `marker`: an example a new user copies. */
async function readmeExample(marker: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  const example = blocks.find((block) => block.includes(marker))
  assert.ok(example !== undefined, `the README has a ts example with ${marker}`)
  return example
}

before(async () => {
  project = await mkdtemp(join(tmpdir(), 'paxos-colleague-package-'))
  // The build is already there (npm test builds first): pack it without running prepack again.
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', project], ROOT, PACK_TIMEOUT_MS)
  assert.equal(packed.status, 0, packed.stderr)
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>
  assert.ok(info !== undefined)
  tarball = join(project, info.filename)
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }))
  const install = npm(
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'],
    project,
    INSTALL_TIMEOUT_MS,
  )
  assert.equal(install.status, 0, install.stderr)
  installed = join(project, 'node_modules', 'paxos-colleague')
})

after(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true })
})

test('the tarball holds the build, the sources, README, LICENSE; no tests', async () => {
  const listed = run('tar', ['-tzf', tarball], project, 30_000)
  assert.equal(listed.status, 0, listed.stderr)
  const files = new Set(listed.stdout.split('\n').filter((line) => line.length > 0))
  for (const file of [
    'package/package.json', 'package/README.md', 'package/LICENSE',
    'package/dist/src/index.js', 'package/dist/src/index.d.ts', 'package/dist/src/index.js.map',
    'package/dist/src/testing/index.js', 'package/dist/src/cli/main.js', 'package/src/index.ts',
    // What the README links to.
    'package/docs/errors.md', 'package/docs/benchmarks.md', 'package/docs/status.png', 'package/examples/counter.ts',
  ]) {
    assert.ok(files.has(file), `the tarball lacks ${file}`)
  }
  assert.ok(![...files].some((file) => file.startsWith('package/dist/test/') || file.startsWith('package/test/')), 'no tests shipped')
  const license = await readFile(join(installed, 'LICENSE'), 'utf8')
  assert.match(license, /^MIT License/)
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { license: string; scripts: Record<string, string> }
  assert.equal(manifest.license, 'MIT')
  assert.match(manifest.scripts['prepack'] ?? '', /rmSync\('dist'.*&& npm run build$/, 'npm pack builds dist afresh first')
})

test('every source map shipped points at sources that are shipped too', async () => {
  const maps = (await readdir(join(installed, 'dist', 'src'), { recursive: true })).filter((file) => file.endsWith('.js.map'))
  assert.ok(maps.length > 10, `found ${maps.length} source maps`)
  for (const map of maps) {
    const path = join(installed, 'dist', 'src', map)
    const { sources } = JSON.parse(await readFile(path, 'utf8')) as { sources: string[] }
    // Output left in this checkout's dist by a source since deleted: prepack starts from an empty dist.
    if (!sources.every((source) => existsSync(resolve(ROOT, 'dist', 'src', dirname(map), source)))) continue
    for (const source of sources) {
      const target = resolve(dirname(path), source)
      assert.ok(target.startsWith(installed), `${map} points outside the package: ${source}`)
      assert.ok(existsSync(target), `${map} points at ${source}, which is not in the package`)
    }
  }
})

test('both entry points import from the installed package, and the binary runs', async () => {
  const script = [
    "import * as library from 'paxos-colleague'",
    "import * as testing from 'paxos-colleague/testing'",
    "if (typeof library.Colleague !== 'function' || typeof library.ColleagueError !== 'function') throw new Error('library exports')",
    "if (Object.keys(testing).length === 0) throw new Error('testing exports')",
    "console.log('imported', Object.keys(library).length > 0, Object.keys(testing).length > 0)",
  ].join('\n')
  await writeFile(join(project, 'imports.mjs'), script)
  const imported = run(process.execPath, ['imports.mjs'], project, 30_000)
  assert.equal(imported.status, 0, imported.stderr)
  assert.equal(imported.stdout, 'imported true true\n')
  // CommonJS: where node can require an ES module (20.19 on), both entry points load.
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
  if (major > 20 || (major === 20 && minor >= 19)) {
    await writeFile(
      join(project, 'imports.cjs'),
      "const { Colleague } = require('paxos-colleague'); const { simulate } = require('paxos-colleague/testing'); console.log(typeof Colleague, typeof simulate)\n",
    )
    const required = run(process.execPath, ['imports.cjs'], project, 30_000)
    assert.equal(required.status, 0, required.stderr)
    assert.equal(required.stdout, 'function function\n')
  }
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const bin = join(project, 'node_modules', '.bin', 'paxos-colleague')
  const printed = run(bin, ['--version'], project, 30_000)
  assert.equal(printed.status, 0, printed.stderr)
  assert.equal(printed.stdout, `${version}\n`)
})

test("the README's examples and typed values type-check against the package under strict, module nodenext", async () => {
  await writeFile(join(project, 'example.ts'), await readmeExample('new Colleague('))
  await writeFile(join(project, 'simulation.ts'), await readmeExample('await simulate('))
  // What JSON cannot carry is a compile error in the user's project too: each expected error must happen.
  await writeFile(
    join(project, 'typed.ts'),
    [
      "import { Colleague, type JsonValue } from 'paxos-colleague'",
      "import { simulate } from 'paxos-colleague/testing'",
      'void simulate',
      "type Move = { readonly piece: string; readonly to: readonly [number, number] }",
      "export function check(any: Colleague, typed: Colleague<Move, { moves: Move[] }>): void {",
      '  // @ts-expect-error a function is not JSON',
      '  void any.enqueue(() => 1)',
      '  // @ts-expect-error a bigint is not JSON',
      '  void any.enqueue(10n)',
      "  // @ts-expect-error not a Move",
      "  void typed.enqueue({ piece: 'pawn' })",
      "  void typed.enqueue({ piece: 'pawn', to: [1, 2] })",
      "  const json: JsonValue = { a: [1, 'b', null] }",
      '  void any.enqueue(json)',
      '}',
    ].join('\n'),
  )
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        // The user's project has its own @types/node; borrow ours rather than install one.
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['example.ts', 'simulation.ts', 'typed.ts'],
    }),
  )
  const checked = run(process.execPath, [TSC, '-p', 'tsconfig.json'], project, 120_000)
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`)
})
