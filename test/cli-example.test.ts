import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { ERROR_CODES } from '../src/colleague/errors.js'
import { KV_ERROR_STATUS } from '../src/cli/kv-routes.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

test('examples/counter.ts runs: two colleagues agree on the total', () => {
  const result = spawnSync(process.execPath, [`${ROOT}dist/examples/counter.js`], { encoding: 'utf8', timeout: 20_000 })
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stdout, 'a: 7, b: 7\n')
})

test('the README shows the example as it is in examples/', async () => {
  const readme = await readFile(`${ROOT}README.md`, 'utf8')
  const example = await readFile(`${ROOT}examples/counter.ts`, 'utf8')
  const body = example.split('\n').filter((line) => !line.startsWith('//') && !line.includes("from '../src/index.js'"))
  for (const line of body.filter((line) => line.trim().length > 0)) {
    assert.ok(readme.includes(line), `README is missing the example line: ${line}`)
  }
})

test('the README lists every error code and the quick start commands', async () => {
  const readme = await readFile(`${ROOT}README.md`, 'utf8')
  for (const code of [...ERROR_CODES, ...Object.keys(KV_ERROR_STATUS)]) {
    assert.match(readme, new RegExp(`\\b${code}\\b`), `README lacks ${code}`)
  }
  assert.ok(readme.includes('npm ci && npm run demo'))
  assert.ok(readme.includes('npm test'))
  const scripts = (JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts
  assert.ok(scripts['demo'] !== undefined && scripts['test'] !== undefined)
})
