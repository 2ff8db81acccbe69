// Real `serve` processes on loopback: writes spread over members, the leader
// killed with SIGKILL, writes continuing, a newcomer joining and serving
// every key, and every member holding the same map.

import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import { governmentOf, membersOf, parliamentOf } from '../src/cli/health-view.js'
import { callJson, type HttpAnswer } from '../src/cli/http-client.js'
import { MAIN_PATH, spawnMember, type MemberProcess } from '../src/cli/member-process.js'

const READY_TIMEOUT_MS = 15_000
const WAIT_MS = 15_000
/** Bound on a process exit: generous, a crashed member closes its servers first and the machine may be busy. */
const EXIT_WAIT_MS = 60_000
const CALL_TIMEOUT_MS = 12_000
const WRITES = 200
const CONCURRENCY = 8

const started: MemberProcess[] = []

after(async () => {
  await Promise.all(started.map((member) => member.stop(2_000)))
})

function start(id: string, args: readonly string[]): MemberProcess {
  // serve refuses an option given twice: a test's own --log-level replaces the default one.
  const logLevel = args.includes('--log-level') ? [] : ['--log-level', 'warn']
  const member = spawnMember({
    name: id,
    readyTimeoutMs: READY_TIMEOUT_MS,
    args: ['--island', 'test', '--bind', '127.0.0.1:0', '--id', id, '--ping-ms', '100', '--timeout-ms', '500', ...logLevel, ...args],
  })
  started.push(member)
  return member
}

/** How `member` exited; a process that does not exit within EXIT_WAIT_MS fails the test instead of hanging it. */
async function exitOf(member: MemberProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${member.name} did not exit within ${EXIT_WAIT_MS} ms\n${member.stderrTail()}`)), EXIT_WAIT_MS)
  })
  try {
    return await Promise.race([member.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

async function ready(member: MemberProcess): Promise<string> {
  try {
    return await member.ready
  } catch (error) {
    throw new Error(`${String(error)}\n${member.stderrTail()}`)
  }
}

async function poll<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
  const until = Date.now() + WAIT_MS
  while (Date.now() < until) {
    const value = await probe().catch(() => null)
    if (value !== null) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`no ${what} within ${WAIT_MS} ms`)
}

async function health(url: string): Promise<unknown> {
  const answer = await callJson(`${url}/health`, { timeoutMs: 2_000 })
  return answer.status === 200 ? answer.body : null
}

function get(url: string): Promise<HttpAnswer> {
  return callJson(url, { timeoutMs: CALL_TIMEOUT_MS })
}

/** A write is retried (same key, same value: idempotent) only while the island has no leader to take it. */
async function put(url: string, key: string, value: unknown): Promise<void> {
  const until = Date.now() + WAIT_MS
  for (;;) {
    const answer = await callJson(`${url}/kv/${key}`, { method: 'PUT', body: value, timeoutMs: CALL_TIMEOUT_MS }).catch(
      (error: unknown) => ({ status: 0, body: String(error) }),
    )
    if (answer.status === 200) return
    if (Date.now() > until || (answer.status >= 400 && answer.status < 500)) {
      throw new Error(`PUT ${key} at ${url}: ${answer.status} ${JSON.stringify(answer.body)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function writeAll(prefix: string, through: readonly string[], expected: Map<string, unknown>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    for (let index = next++; index < WRITES; index = next++) {
      const key = `${prefix}-${index}`
      const value = { index, prefix }
      await put(through[index % through.length] ?? '', key, value)
      expected.set(key, value)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

test('three members survive the SIGKILL of their leader and admit a newcomer that serves every key', { timeout: 180_000 }, async () => {
  const m1 = start('m1', ['--bootstrap'])
  const url1 = await ready(m1)
  const m2 = start('m2', ['--join', url1])
  await ready(m2)
  const m3 = start('m3', ['--join', url1])
  await ready(m3)
  const members = [m1, m2, m3]
  const whole = await poll('government of three', async () => {
    const view = governmentOf(await health(url1))
    return view !== null && parliamentOf(view).length === 3 && view.naturalized.length === 3 ? view : null
  })

  const expected = new Map<string, unknown>()
  await writeAll('before', members.map((member) => member.url ?? ''), expected)

  assert.ok(whole.leader !== null)
  // Leadership may have moved during the writes: ask who leads now.
  const leader = await poll('member that leads', async () => {
    for (const member of members) {
      const answer = (await health(member.url ?? '')) as { isLeader?: unknown } | null
      if (answer?.isLeader === true) return member
    }
    return null
  })
  leader.kill('SIGKILL')
  const killed = await exitOf(leader)
  assert.equal(killed.signal, 'SIGKILL')
  const survivors = members.filter((member) => member !== leader)
  await writeAll('after', survivors.map((member) => member.url ?? ''), expected)
  const afterKill = governmentOf(await health(survivors[0]?.url ?? ''))
  assert.notEqual(afterKill?.leader, leader.name, 'a new leader governs')

  // Given the dead leader first (refused at once), then a survivor: the newcomer goes on to the next.
  const newcomer = start('m4', ['--join', `${leader.url ?? ''},${survivors[1]?.url ?? ''}`])
  const url4 = await ready(newcomer)
  const first = await get(`${url4}/kv?consistent=1`)
  assert.equal(first.status, 200)
  for (const [key, value] of expected) {
    const answer = await get(`${url4}/kv/${key}`)
    assert.equal(answer.status, 200, key)
    assert.deepEqual((answer.body as { value: unknown }).value, value, key)
  }

  const living = [...survivors, newcomer]
  // Every member's map is the same once each has applied the same prefix.
  await get(`${survivors[0]?.url ?? ''}/kv?consistent=1`)
  const bodies = await poll('identical GET /kv on every member', async () => {
    const answers = await Promise.all(living.map((member) => get(`${member.url ?? ''}/kv`)))
    const [reference, ...others] = answers.map((answer) => answer.body)
    return others.every((body) => isDeepStrictEqual(body, reference)) ? answers : null
  })
  const body = bodies[0]?.body as { count: number; entries: Array<{ key: string; value: unknown }> }
  assert.equal(body.count, expected.size)
  assert.deepEqual(new Map(body.entries.map((entry) => [entry.key, entry.value])), expected)

  const view = governmentOf(await health(url4))
  assert.ok(view !== null && membersOf(view).includes('m4'))
  const printed = spawnSync(process.execPath, [MAIN_PATH, 'health', url4], { encoding: 'utf8', timeout: 10_000 })
  assert.equal(printed.status, 0, printed.stderr)
  // m4 answered: it is the one member marked with *
  assert.match(printed.stdout, /^ {2}\* m4 +(parliament|constituent) +http:\/\/127\.0\.0\.1:\d+$/m)
  assert.match(printed.stdout, new RegExp(`^ {2}leader +${view.leader ?? '?'}$`, 'm'))

  const exits = await Promise.all(living.map((member) => member.stop(5_000)))
  assert.deepEqual(exits, living.map(() => ({ code: 0, signal: null })), 'SIGTERM: clean shutdown, exit 0')
})

test('a member that cannot join exits 1 without printing a URL', { timeout: 120_000 }, async () => {
  // At the default log level: the colleague's own log lines of its shutdown must not come before the reason.
  const member = start('lost', ['--join', 'http://127.0.0.1:9', '--log-level', 'info'])
  const exit = await exitOf(member)
  assert.equal(exit.code, 1, member.stderrTail())
  assert.equal(member.url, null)
  // One plain line saying why, and nothing else: no stack trace, no log line.
  assert.match(member.stderrTail(), /^paxos-colleague: could not join through http:\/\/127\.0\.0\.1:9: .*connection refused[^\n]*$/)
})

test('a member still joining answers its kv routes 503 KV_UNAVAILABLE rather than from its empty store', { timeout: 120_000 }, async () => {
  // A "member" that takes the join's connection and never answers: the join waits (joinTimeoutMs).
  const sockets: Socket[] = []
  const silent = createNetServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  // The joining member prints its URL only once joined: it gets a port known beforehand.
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const member = spawnMember({
    name: 'joining',
    readyTimeoutMs: 60_000,
    args: ['--island', 'test', '--bind', `127.0.0.1:${port}`, '--id', 'joining', '--log-level', 'warn', '--join', `http://127.0.0.1:${(silent.address() as AddressInfo).port}`],
  })
  started.push(member)
  member.ready.catch(() => {})
  try {
    const url = `http://127.0.0.1:${port}`
    const first = await poll('an answer from the joining member', () => get(`${url}/kv/anything`))
    assert.equal(first.status, 503, JSON.stringify(first.body))
    assert.equal((first.body as { error: { code: string } }).error.code, 'KV_UNAVAILABLE')
    const whole = await get(`${url}/kv`)
    assert.equal(whole.status, 503, JSON.stringify(whole.body))
    const write = await callJson(`${url}/kv/anything`, { method: 'PUT', body: 'x', timeoutMs: CALL_TIMEOUT_MS })
    assert.equal(write.status, 503, JSON.stringify(write.body))
    assert.equal(((await health(url)) as { state: string }).state, 'joining')
  } finally {
    await member.stop(2_000)
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  }
})

test('a newcomer whose out-of-band request fails crashes and exits 1', { timeout: 120_000 }, async () => {
  // The founder advertises a location where nothing listens, so the
  // newcomer's one snapshot request to it is refused at the connection.
  const founder = start('c1', ['--bootstrap', '--location', 'http://127.0.0.1:9'])
  const url1 = await ready(founder)
  const newcomer = start('c2', ['--join', url1, '--log-level', 'info'])
  const exit = await exitOf(newcomer)
  assert.equal(exit.code, 1, newcomer.stderrTail())
  assert.equal(newcomer.url, null)
  assert.match(newcomer.stderrTail(), /OUT_OF_BAND_FAILED/)
  assert.match(newcomer.stderrTail(), /"msg":"colleague crashed"/)
})

test('members sharing --secret-file form an island; the secret is required', { timeout: 120_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'paxos-colleague-cli-'))
  try {
    const secretPath = join(directory, 'secret')
    await writeFile(secretPath, 'island secret\n', { mode: 0o600 })
    const founder = start('s1', ['--bootstrap', '--secret-file', secretPath])
    const url1 = await ready(founder)
    const peer = start('s2', ['--join', url1, '--secret-file', secretPath])
    const url2 = await ready(peer)
    await put(url2, 'shared', 'yes')
    const read = await get(`${url1}/kv/shared?consistent=1`)
    assert.deepEqual(read.body, { key: 'shared', value: 'yes', position: (read.body as { position: number }).position })

    const outsider = start('s3', ['--join', url1])
    const exit = await exitOf(outsider)
    assert.notEqual(exit.code, 0, 'an unsigned join is refused')
    assert.equal(outsider.url, null)
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})
