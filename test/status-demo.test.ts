// `paxos-colleague demo --status`: after the demo the island stays up, the
// status page's URL is printed and serves the page and its events, and Ctrl-C
// (SIGINT) stops every member cleanly.

import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { callJson } from '../src/cli/http-client.js'
import { MAIN_PATH } from '../src/cli/member-process.js'
import type { StatusView } from '../src/colleague/status/status-view.js'
import { openStream } from './status-stream.js'

const DEMO_TIMEOUT_MS = 90_000
const WAIT_MS = 20_000

test('demo --status keeps the island up, prints the status page URL, and stops on SIGINT', async () => {
  const child = spawn(process.execPath, [MAIN_PATH, 'demo', '--keys', '5', '--status'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  try {
    const url = await new Promise<string | null>((resolve) => {
      const check = (): void => {
        const match = /^status page: (http:\/\/127\.0\.0\.1:\d+)\/status$/m.exec(stdout)
        if (match?.[1] !== undefined) resolve(match[1])
      }
      child.stdout.on('data', check)
      void exited.then(() => resolve(null))
    })
    assert.ok(url !== null, `no status page URL printed\n${stdout}\n${stderr}`)
    assert.doesNotMatch(stdout, /stopped \d+ members/, 'the island is still up')
    const page = await callJson(`${url}/status`, { timeoutMs: WAIT_MS })
    assert.equal(page.status, 200)
    assert.match(String(page.body), /<title>paxos-colleague status<\/title>/)
    const stream = await openStream(`${url}/status/events`)
    try {
      const view = (await stream.until(
        (event) => (event as StatusView).members.length === 3 && (event as StatusView).members.every((member) => member.answering),
        WAIT_MS,
        'three members answering',
      )) as StatusView
      assert.deepEqual(view.members.map((member) => member.id).sort(), ['m2', 'm3', 'm4'])
      assert.ok(view.government?.exiled.includes('m1'), 'the killed leader shows as exiled')
    } finally {
      stream.close()
    }
    child.kill('SIGINT')
    assert.equal(await exited, 0, `${stdout}\n${stderr}`)
    assert.match(stdout, /stopped 3 members with SIGTERM/)
  } finally {
    clearTimeout(timer)
    child.kill('SIGKILL')
  }
})
