// What an application may get wrong, and what the colleague does then: a
// typed refusal that changes nothing, or (for its own callbacks) a loud
// crash of that member alone; never a hang, a silent change of state or an
// error that escapes into the process.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Colleague, isColleagueError, type ColleagueOptions, type StorageFileSystem } from '../src/index.js'
import { nodeFileSystem } from '../src/storage/file-system.js'
import { startIsland, startMember, stopAll, TEST_TIMING, waitFor, type Member } from './colleague-island.js'
import { linesAt, recordingLogger, type Line } from './support/logger.js'
import { ManualClock } from './support/manual-clock.js'

const entry = (): void => {}

function refusedOptions(options: unknown, pattern: RegExp): void {
  assert.throws(
    () => new Colleague(options as ColleagueOptions),
    (error: unknown) => isColleagueError(error) && error.code === 'INVALID_OPTIONS' && pattern.test(error.message),
    `expected INVALID_OPTIONS matching ${pattern}`,
  )
}

test('options of the wrong shape are INVALID_OPTIONS from the constructor, not a TypeError later', () => {
  const base = { islandName: 'misuse', application: { entry } }
  refusedOptions(null, /must be an object/)
  refusedOptions(undefined, /must be an object/)
  refusedOptions({ islandName: 'misuse', application: null }, /application must be an object/)
  refusedOptions({ ...base, application: { entry, snapshot: 42 } }, /application\.snapshot must be a function/)
  refusedOptions({ ...base, application: { entry, government: 'yes' } }, /application\.government must be a function/)
  refusedOptions({ ...base, storage: null }, /storage must be an object/)
  refusedOptions({ ...base, logger: {} }, /logger must be pino-like/)
  refusedOptions({ ...base, clock: {} }, /clock must have/)
  refusedOptions({ ...base, transport: {} }, /transport must have/)
  refusedOptions({ ...base, random: 7 }, /random must be a function/)
  // A misspelt option would leave its default in place without a word.
  refusedOptions({ ...base, pingms: 100 }, /unknown option "pingms"/)
  refusedOptions({ ...base, storage: { directory: '/tmp/x', snapshotEvery: 5 } }, /unknown option storage\.snapshotEvery/)
  // A timer past 2^31 - 1 ms fires after 1 ms in node: refused, not shortened in silence.
  for (const name of ['pingMs', 'timeoutMs', 'joinTimeoutMs', 'outOfBandTimeoutMs']) {
    refusedOptions({ ...base, [name]: 3e9 }, new RegExp(`${name} must be a number of milliseconds above 0 and at most 2147483647`))
  }
  refusedOptions({ ...base, pingMs: '100' }, /pingMs .* got the string "100"/)
  refusedOptions({ ...base, storage: { directory: '/tmp/x', exileMs: 3e9 } }, /storage\.exileMs/)
  // A file system of the wrong shape is refused here, not met as STORAGE_FAILED when first used.
  const partial = { makeDirectory: () => {}, list: () => [] } as unknown as StorageFileSystem
  refusedOptions({ ...base, storage: { directory: '/tmp/x', fileSystem: partial } }, /storage\.fileSystem must have makeDirectory, list, read/)
  refusedOptions({ ...base, storage: { directory: '/tmp/x', fileSystem: { ...nodeFileSystem, lock: true } as unknown as StorageFileSystem } }, /storage\.fileSystem/)
  refusedOptions({ ...base, storage: { directory: '/tmp/x', mutant: 'nope' as never } }, /storage\.mutant must be one of/)
  // Ids a colleague mints are held to the rules a given one is.
  refusedOptions({ ...base, randomId: () => 'constructor' }, /randomId\(\) returned "constructor"/)
  refusedOptions({ ...base, randomId: () => '' }, /randomId\(\) returned ""/)
})

test('a slow asynchronous snapshot(): the newcomer waits for it instead of crashing', { timeout: 60_000 }, async () => {
  let total = 0
  const make = (id: string): Colleague =>
    new Colleague({
      islandName: 'slow-snapshot',
      colleagueId: id,
      host: '127.0.0.1',
      port: 0,
      ...TEST_TIMING,
      application: {
        entry: ({ value }) => void (total += value as number),
        // Longer than a newcomer takes to ask for it: it is taken while the request waits.
        snapshot: () => new Promise((resolve) => setTimeout(() => resolve({ total }), 400)),
        restore: (state) => void (total = (state as { total: number }).total),
      },
    })
  const founder = make('a')
  const newcomer = make('b')
  try {
    const { url } = await founder.listen()
    await founder.bootstrap()
    await founder.enqueue(5)
    await newcomer.listen()
    await newcomer.join(url)
    assert.equal(newcomer.naturalized(), true)
    assert.equal(newcomer.health().state, 'member')
  } finally {
    await Promise.all([newcomer.shutdown(), founder.shutdown()])
  }
})

test('a snapshot() JSON cannot carry exactly crashes its leader loudly, naming snapshot(), instead of handing on another state', { timeout: 60_000 }, async () => {
  const crashes: Error[] = []
  const leader = new Colleague({
    islandName: 'nan-snapshot',
    colleagueId: 'a',
    host: '127.0.0.1',
    port: 0,
    ...TEST_TIMING,
    joinTimeoutMs: 3_000,
    application: { entry, snapshot: () => ({ n: Number.NaN }), restore: () => {} },
  })
  leader.on('crash', (error) => crashes.push(error))
  const newcomer = await startMember('nan-snapshot', { colleagueId: 'b', joinTimeoutMs: 3_000 })
  try {
    const { url } = await leader.listen()
    await leader.bootstrap()
    await assert.rejects(newcomer.colleague.join(url))
    await waitFor(() => crashes.length > 0, 10_000, 'the leader to crash')
    const [crash] = crashes as [Error & { code?: string }]
    assert.equal(crash.code, 'APPLICATION_FAILED')
    const causes = [crash, (crash as { cause?: Error }).cause].map((error) => error?.message ?? '').join(' | ')
    assert.match(causes, /snapshot\(\) returned a state JSON cannot carry/)
  } finally {
    await Promise.all([newcomer.colleague.shutdown(), leader.shutdown()])
  }
})

test('listeners that throw or reject are logged and ignored: the colleague and its other listeners go on', { timeout: 60_000 }, async () => {
  const lines: Line[] = []
  const logger = recordingLogger(lines)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  const members = await startIsland(2, 'listeners', { logger })
  try {
    const { colleague } = members[0] as Member
    let after = 0
    for (const event of ['government', 'leader', 'admitted', 'quorum', 'shutdown'] as const) {
      colleague.on(event, () => {
        throw new Error(`listener of ${event}`)
      })
      colleague.on(event, async () => {
        throw new Error(`async listener of ${event}`)
      })
    }
    colleague.on('government', () => void after++)
    // A third member: new governments, each emitted to the throwing listeners first.
    const third = await startMember('listeners', { colleagueId: 'm2', logger })
    await third.colleague.join(colleague.health().location as string)
    await waitFor(() => after > 0, 20_000, 'the listener after the throwing ones to run')
    await colleague.enqueue('still writing')
    assert.equal(colleague.health().state, 'member')
    await third.colleague.shutdown()
    await colleague.shutdown()
    const logged = linesAt(lines, 'error')
    assert.ok(
      logged.some((line) => line.fields.event === 'government'),
      'a throwing government listener is logged',
    )
    assert.ok(logged.some((line) => line.fields.event === 'shutdown'))
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await stopAll(members)
  }
})

test('the government handed out is frozen: an application cannot change what the island holds through it', { timeout: 60_000 }, async () => {
  const members = await startIsland(2, 'frozen')
  try {
    const [first] = members as [Member]
    const government = first.colleague.health().government
    assert.ok(government !== null)
    assert.throws(() => (government.majority as string[]).push('intruder'), TypeError)
    assert.throws(() => {
      ;(government as { number: number }).number = 999
    }, TypeError)
    assert.throws(() => {
      delete (government.properties as Record<string, unknown>)['m0']
    }, TypeError)
    await first.colleague.enqueue('after')
    const number = first.colleague.health().government?.number ?? 0
    assert.ok(number < 999)
  } finally {
    await stopAll(members)
  }
})

test('outOfBand() on a member that has its state is ALREADY_JOINED: nothing sent, nothing crashed', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'oob-member')
  try {
    const [founder] = members as [Member]
    await assert.rejects(founder.colleague.outOfBand('anything', {}), (error: unknown) => isColleagueError(error) && error.code === 'ALREADY_JOINED')
    assert.equal(founder.colleague.health().state, 'member')
    await founder.colleague.enqueue('after')
    assert.deepEqual(founder.app.values, ['after'])
  } finally {
    await stopAll(members)
  }
})

test('values whose JSON text would drop what they hold (a Map, a Set, an Error, a typed array) are INVALID_VALUE at enqueue', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'lossy')
  try {
    const [founder] = members as [Member]
    for (const value of [new Map([['a', 1]]), { nested: [new Set([1])] }, new Error('x'), new Uint8Array([1, 2]), /x/, Promise.resolve(1)]) {
      await assert.rejects(founder.colleague.enqueue(value as never), (error: unknown) => isColleagueError(error) && error.code === 'INVALID_VALUE', String(value))
    }
    // What JSON carries by way of toJSON still goes: a Date as its ISO text.
    await founder.colleague.enqueue({ at: new Date(0) } as never)
    assert.deepEqual(founder.app.values, [{ at: '1970-01-01T00:00:00.000Z' }])
  } finally {
    await stopAll(members)
  }
})

/** An `entry()` that holds the applier on the value 'slow' until `release()`; `applied` lists what it was handed. */
function holdingOnSlow(): { entry: (value: unknown) => void | Promise<void>; applied: unknown[]; release: () => void } {
  const applied: unknown[] = []
  let release = (): void => {}
  return {
    applied,
    release: () => release(),
    entry: (value) => {
      applied.push(value)
      if (value !== 'slow') return undefined
      return new Promise<void>((resolve) => (release = resolve))
    },
  }
}

/** A one-member island on a manual clock: nothing but `run` moves its time. */
async function soloOnManualClock(
  islandName: string,
  entry: (value: unknown) => void | Promise<void>,
  logger?: unknown,
): Promise<{ colleague: Colleague; run: (ms: number, done?: () => boolean) => Promise<void>; stop: () => Promise<void> }> {
  const clock = new ManualClock()
  const colleague = new Colleague({
    islandName,
    colleagueId: 'a',
    location: 'http://a.invalid',
    pingMs: 50,
    timeoutMs: 250,
    clock,
    ...(logger !== undefined && { logger: logger as never }),
    transport: { post: () => Promise.reject(new Error('no peers here')), close: async () => {} },
    application: { entry: ({ value }) => entry(value) },
  })
  /** Moves the clock 10 ms at a time, letting promises settle between, until `done` or `ms` of clock time. */
  const run = async (ms: number, done: () => boolean = () => false): Promise<void> => {
    for (let spent = 0; spent < ms && !done(); spent += 10) {
      clock.advance(10)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  let settled = false
  void colleague.bootstrap().then(() => (settled = true))
  await run(5_000, () => settled)
  assert.equal(settled, true, 'bootstrapped on the manual clock')
  const stop = async (): Promise<void> => {
    const down = colleague.shutdown()
    await run(2_000)
    await down
  }
  return { colleague, run, stop }
}

test('an entry() that does not settle holds every later entry back: health() shows which and how long, and a warning says so once', { timeout: 30_000 }, async () => {
  const lines: Line[] = []
  const logger = recordingLogger(lines)
  const stalls = (): Array<{ position?: unknown; waitedMs?: unknown }> =>
    linesAt(lines, 'warn').filter((line) => /applying has stalled/.test(line.message)).map((line) => line.fields)
  const said = (message: string): boolean => linesAt(lines, 'info').some((line) => line.message === message)
  const held = holdingOnSlow()
  const { colleague: solo, run, stop } = await soloOnManualClock('stall', held.entry, logger)
  try {
    const values = ['slow', 'next'].map((value) => solo.enqueue(value))
    await run(1_000, () => solo.health().applying !== null)
    const applying = solo.health().applying
    assert.ok(applying !== null, 'health() shows the entry awaited')
    assert.deepEqual(held.applied, ['slow'])
    await run(9_000)
    assert.equal(stalls().length, 0, 'no warning before APPLY_STALL_MS')
    await run(2_000)
    assert.equal(stalls().length, 1)
    assert.equal(stalls()[0]?.position, applying.position)
    assert.ok(Number(stalls()[0]?.waitedMs ?? 0) >= 10_000)
    assert.ok((solo.health().applying?.forMs ?? 0) >= 10_000)
    assert.equal(solo.health().positions.applied, applying.position - 1)
    await run(20_000)
    assert.equal(stalls().length, 1, 'said once per stall')
    held.release()
    let both = false
    void Promise.all(values).then(() => (both = true))
    await run(2_000, () => both && said('applying goes on'))
    assert.equal(both, true)
    assert.deepEqual(held.applied, ['slow', 'next'])
    assert.equal(solo.health().applying, null)
    assert.ok(said('applying goes on'))
  } finally {
    await stop()
  }
})

test("an aborted signal ends an enqueue's or a barrier's wait with its reason; the value already handed on is still applied", { timeout: 30_000 }, async () => {
  const held = holdingOnSlow()
  const { colleague: solo, run, stop } = await soloOnManualClock('abort', held.entry)
  try {
    const slow = solo.enqueue('slow')
    await run(1_000, () => solo.health().applying !== null)
    const controller = new AbortController()
    const given = solo.enqueue('given up on', { signal: controller.signal })
    const barrier = solo.barrier({ signal: controller.signal })
    const timed = solo.enqueue('timed', { signal: AbortSignal.timeout(50) })
    await run(100)
    assert.equal(solo.health().pending, 4)
    const reason = new Error('the caller gave up')
    controller.abort(reason)
    await assert.rejects(given, (error) => error === reason)
    await assert.rejects(barrier, (error) => error === reason)
    // Real time: AbortSignal.timeout does not follow the colleague's clock, and its timer keeps no process alive.
    const keepAlive = setTimeout(() => {}, 10_000)
    await assert.rejects(timed, (error: Error) => error.name === 'TimeoutError')
    clearTimeout(keepAlive)
    assert.equal(solo.health().pending, 1, 'only the enqueue still awaited counts')
    held.release()
    let done = false
    void slow.then(() => (done = true))
    await run(2_000, () => done && held.applied.length === 3)
    assert.equal(done, true)
    assert.deepEqual(held.applied, ['slow', 'given up on', 'timed'], 'the values were handed on: the island applies them')
    // A signal that never aborts leaves the wait as it is.
    const kept = new AbortController()
    let resolved = false
    void solo.enqueue('kept', { signal: kept.signal }).then(() => (resolved = true))
    await run(2_000, () => resolved)
    assert.equal(resolved, true)
    kept.abort()
  } finally {
    await stop()
  }
})

test('a signal aborted before the call enqueues nothing, and call options of the wrong shape are INVALID_OPTIONS', { timeout: 30_000 }, async () => {
  const applied: unknown[] = []
  const { colleague: solo, run, stop } = await soloOnManualClock('aborted-before', (value) => void applied.push(value))
  try {
    await assert.rejects(solo.enqueue('never', { signal: AbortSignal.abort() }), (error: Error) => error.name === 'AbortError')
    await assert.rejects(solo.barrier({ signal: AbortSignal.abort('why') }), (error) => error === 'why')
    const misuses: unknown[] = [null, 5, { signal: 'soon' }, { signal: {} }, { timeoutMs: 5 }]
    for (const options of misuses) {
      for (const call of [() => solo.enqueue('never', options as never), () => solo.barrier(options as never)]) {
        await assert.rejects(call(), (error) => isColleagueError(error) && error.code === 'INVALID_OPTIONS', JSON.stringify(options))
      }
    }
    assert.equal(solo.health().pending, 0)
    let resolved = false
    void solo.enqueue('check').then(() => (resolved = true))
    await run(2_000, () => resolved)
    assert.deepEqual(applied, ['check'], 'nothing refused reached the log')
  } finally {
    await stop()
  }
})

test('a newcomer whose application has no restore() joins, and says it starts from nothing when the leader sent a state', { timeout: 30_000 }, async () => {
  const newcomer = async (founderUrl: string, id: string): Promise<{ lines: Line[]; applied: unknown[]; colleague: Colleague }> => {
    // Its application has no restore(); `applied` records what reaches its entry().
    const lines: Line[] = []
    const logger = recordingLogger(lines)
    const applied: unknown[] = []
    const colleague = new Colleague({
      islandName: 'no-restore',
      colleagueId: id,
      host: '127.0.0.1',
      port: 0,
      ...TEST_TIMING,
      logger,
      application: { entry: ({ value }) => void applied.push(value) },
    })
    await colleague.listen()
    await colleague.join(founderUrl)
    return { lines, applied, colleague }
  }
  const [founder] = await startIsland(1, 'no-restore')
  const joined: Colleague[] = []
  try {
    const leader = founder as Member
    await leader.colleague.enqueue('before')
    const { lines, applied, colleague } = await newcomer(leader.url, 'n1')
    joined.push(colleague)
    const warned = linesAt(lines, 'warn')
    assert.equal(warned.length, 1, JSON.stringify(warned))
    const [warning] = warned
    assert.equal(warning?.message, 'the leader sent its application state, but the application has no restore(): this colleague starts from nothing at its arrival')
    assert.equal(typeof warning?.fields.arrival, 'string', 'the warning names the arrival')
    // It still takes part: what is committed after its arrival reaches it.
    await leader.colleague.enqueue('after')
    await waitFor(() => applied.includes('after'), 10_000, 'the newcomer to apply the value enqueued after its arrival')
    assert.equal(applied.includes('before'), false, 'what came before its arrival is in the state it did not install')
  } finally {
    await Promise.all(joined.map((colleague) => colleague.shutdown()))
    await stopAll(founder === undefined ? [] : [founder])
  }
})
