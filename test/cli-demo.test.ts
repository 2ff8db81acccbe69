import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { parseCommand } from '../src/cli/args.js'
import { demo } from '../src/cli/demo.js'
import { MAIN_PATH } from '../src/cli/member-process.js'

const DEMO_TIMEOUT_MS = 60_000

test('demo runs to completion, reports the failover, and leaves no process behind', async () => {
  const child = spawn(process.execPath, [MAIN_PATH, 'demo', '--keys', '10', '--deadline-ms', '50000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  assert.equal(code, 0, `${stdout}\n${stderr}`)
  assert.match(stdout, /SIGKILL leader m\d \(pid (\d+)\)/)
  assert.match(stdout, /first write after the kill acknowledged by m\d (\d+ ms|\d+\.\d\d s) after SIGKILL/)
  assert.match(stdout, /newcomer m4 holds \d+ keys, received out of band/)
  assert.match(stdout, /stopped 3 members with SIGTERM .* every one exited 0/)
  assert.match(stdout, /^demo passed in .*; first write .* after SIGKILL of the leader$/m)

  const pids = [...stdout.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]))
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'the killed leader is gone')
})

test('demo stops its members when interrupted with SIGINT', async () => {
  const child = spawn(process.execPath, [MAIN_PATH, 'demo', '--keys', '10'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS)
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (/m1 founded the island/.test(stdout)) resolve()
    }
    child.stdout.on('data', check)
    child.once('exit', () => resolve())
  })
  child.kill('SIGINT')
  const code = await new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  )
  clearTimeout(timer)
  assert.equal(code, 130, stdout)
  assert.match(stdout, /interrupted/)
})

test('a demo past its deadline fails with exit 1 and leaves no member listening', async () => {
  const child = spawn(process.execPath, [MAIN_PATH, 'demo', '--deadline-ms', '2000'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.resume()
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  assert.equal(code, 1, stdout)
  assert.match(stdout, /FAILED: .*longer than 2000 ms/)
  for (const [, url] of stdout.matchAll(/ at (http:\/\/127\.0\.0\.1:\d+) in /g)) {
    await assert.rejects(fetch(`${url ?? ''}/health`, { signal: AbortSignal.timeout(2_000) }), `${url ?? ''} still answers`)
  }
})

test('a demo whose stop signal came while it loaded (its signal aborted already) starts nothing and returns 130', async () => {
  const command = parseCommand(['demo', '--keys', '10'])
  assert.ok(command.command === 'demo')
  let printed = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      printed += chunk.toString()
      done()
    },
  })
  const started = performance.now()
  const code = await demo(command.options, { stdout: sink, stderr: sink, signal: AbortSignal.abort(new Error('SIGINT')) })
  assert.equal(code, 130, printed)
  assert.match(printed, /interrupted/)
  assert.doesNotMatch(printed, /founded the island/)
  assert.ok(performance.now() - started < DEMO_TIMEOUT_MS)
})
