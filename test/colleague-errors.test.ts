import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { ColleagueError, ERROR_CODES, ERROR_STATUS, isColleagueError, REQUEST_TYPES } from '../src/index.js'

test('docs/errors.md lists every error code with its HTTP status, and nothing else', async () => {
  const docs = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const rows = new Map<string, number>()
  for (const match of docs.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(match[1] as string, Number(match[2]))
  for (const code of ERROR_CODES) assert.equal(rows.get(code), ERROR_STATUS[code], `docs/errors.md row for ${code}`)
  assert.deepEqual([...rows.keys()].sort(), [...ERROR_CODES].sort())
})

test('the tables of codes and request types are frozen: changing one cannot change what every error says', () => {
  for (const table of [ERROR_STATUS, ERROR_CODES, REQUEST_TYPES]) assert.ok(Object.isFrozen(table))
  assert.throws(() => {
    ;(ERROR_STATUS as Record<string, number>)['SHUT_DOWN'] = 200
  }, TypeError)
  assert.equal(new ColleagueError('SHUT_DOWN', 'x').status, 503)
})

test('ColleagueError carries its code, status, cause and JSON body', () => {
  const cause = new Error('socket hang up')
  const error = new ColleagueError('OUT_OF_BAND_FAILED', 'leader gone', { cause })
  assert.ok(error instanceof Error)
  assert.ok(isColleagueError(error))
  assert.equal(error.name, 'ColleagueError')
  assert.equal(error.code, 'OUT_OF_BAND_FAILED')
  assert.equal(error.status, 502)
  assert.equal(error.cause, cause)
  assert.deepEqual(error.toBody(), { error: { code: 'OUT_OF_BAND_FAILED', message: 'leader gone' } })
  for (const code of ERROR_CODES) {
    const status = ERROR_STATUS[code]
    assert.ok(status >= 400 && status <= 599, code)
  }
})
