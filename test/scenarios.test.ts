import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'
import { runTranscript } from './support/transcript.js'

// Transcripts live in the source tree (tests run from the package root); REWRITE=1 regenerates them.
const directory = new URL('test/scenarios/', `file://${process.cwd()}/`)

for (const name of readdirSync(directory).filter((file) => file.endsWith('.txt')).sort()) {
  test(`scenario ${name}`, () => {
    const url = new URL(name, directory)
    const expected = readFileSync(url, 'utf8')
    const actual = runTranscript(expected)
    if (process.env['REWRITE'] === '1') writeFileSync(url, actual)
    else assert.equal(actual, expected)
  })
}
