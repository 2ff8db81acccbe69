import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Colleague, isColleagueError, type ColleagueOptions } from '../src/index.js'
import { ListApplication, TEST_TIMING, waitFor, type Member } from './colleague-island.js'
import { nodeFileSystem } from '../src/storage/file-system.js'
import { DurableStore } from '../src/storage/durable-store.js'

const root = mkdtempSync(join(tmpdir(), 'paxos-durable-'))
after(() => rmSync(root, { recursive: true, force: true }))

async function start(
  islandName: string,
  directory: string,
  port: number,
  overrides: Partial<Omit<ColleagueOptions, 'application'>> = {},
): Promise<Member> {
  const app = new ListApplication()
  const colleague = new Colleague({
    islandName,
    host: '127.0.0.1',
    port,
    ...TEST_TIMING,
    storage: { directory, snapshotEveryEntries: 16 },
    ...overrides,
    application: {
      entry: (entry) => app.entry(entry),
      snapshot: () => app.snapshot(),
      restore: (state) => app.restore(state),
    },
  })
  const { url } = await colleague.listen()
  return { colleague, app, url }
}

/** Every wait is bounded: a stuck colleague fails the test instead of hanging it. */
async function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function portOf(member: Member): number {
  return Number(new URL(member.url).port)
}

test('a durable island shut down whole comes back as itself, with every acknowledged value, and goes on', async () => {
  const dirs = ['a', 'b', 'c'].map((name) => join(root, `island-1-${name}`))
  const first = await start('durable', dirs[0] as string, 0, { colleagueId: 'a' })
  await within(first.colleague.bootstrap(), 'bootstrap')
  const members = [first]
  for (const [index, id] of ['b', 'c'].entries()) {
    const member = await start('durable', dirs[index + 1] as string, 0, { colleagueId: id })
    await within(member.colleague.join(first.url), `join of ${id}`)
    members.push(member)
  }
  const acknowledged: unknown[] = []
  for (let round = 0; round < 5; round++) {
    const values = members.flatMap((member, index) => [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ round, member: index, n })))
    const settled = await within(
      Promise.all(values.map((value, index) => (members[index % 3] as Member).colleague.enqueue(value))),
      `round ${round} of enqueues`,
    )
    assert.equal(settled.length, values.length)
    acknowledged.push(...values)
  }
  const ports = members.map(portOf)
  const ids = members.map((member) => member.colleague.colleagueId)
  await within(Promise.all(members.map((member) => member.colleague.shutdown())), 'shutdown')
  assert.ok(readdirSync(dirs[0] as string).some((name) => name.endsWith('.snap')), 'snapshots were written')

  // The same code runs again: bootstrap() and join() resume instead.
  const again: Member[] = []
  for (const [index, dir] of dirs.entries()) {
    const member = await start('durable', dir, ports[index] as number)
    assert.equal(member.colleague.recovered, true)
    assert.equal(member.colleague.colleagueId, ids[index], 'a member comes back under its own id')
    again.push(member)
  }
  await within(
    Promise.all(again.map((member, index) => (index === 0 ? member.colleague.bootstrap() : member.colleague.join(first.url)))),
    'resume',
  )
  // A member resumes up to the commit point it had stored; a value acknowledged elsewhere just before the
  // shutdown may be accepted on its disk but known chosen only once the island goes on.
  for (const member of again) {
    const holds = (value: unknown) => member.app.values.some((applied) => JSON.stringify(applied) === JSON.stringify(value))
    await waitFor(() => acknowledged.every(holds), 20_000, `every acknowledged value on ${member.colleague.colleagueId}`).catch(() => {
      assert.fail(`lost ${JSON.stringify(acknowledged.find((value) => !holds(value)))}`)
    })
  }
  // It still works: a new value goes through a newly elected leader, with no duplicate of an old one.
  const next = await within((again[1] as Member).colleague.enqueue({ after: 'restart' }), 'an enqueue after the restart')
  await waitFor(() => again.every((member) => member.app.positions.includes(next.position)), 20_000, 'the value after the restart')
  for (const member of again) {
    const texts = member.app.values.map((value) => JSON.stringify(value))
    assert.equal(new Set(texts).size, texts.length, 'no value applied twice')
    assert.deepEqual(member.app.positions, [...member.app.positions].sort((a, b) => a - b))
  }
  const reference = JSON.stringify((again[0] as Member).app.values.slice(0, acknowledged.length))
  for (const member of again) assert.equal(JSON.stringify(member.app.values.slice(0, acknowledged.length)), reference)
  await within(Promise.all(again.map((member) => member.colleague.shutdown())), 'shutdown')
})

test('a one-member durable island restarts and elects itself again', async () => {
  const dir = join(root, 'solo')
  const solo = await start('solo', dir, 0)
  await within(solo.colleague.bootstrap(), 'bootstrap')
  for (let n = 0; n < 40; n++) await within(solo.colleague.enqueue({ n }), `enqueue ${n}`)
  const port = portOf(solo)
  await within(solo.colleague.shutdown(), 'shutdown')
  const again = await start('solo', dir, port)
  await within(again.colleague.bootstrap(), 'resume')
  assert.deepEqual(again.app.values, Array.from({ length: 40 }, (_, n) => ({ n })))
  const enqueued = await within(again.colleague.enqueue({ n: 40 }), 'an enqueue after the restart')
  assert.equal(again.app.values.length, 41)
  assert.ok(enqueued.position > 40)
  await within(again.colleague.shutdown(), 'shutdown')
})

test('a durable member that would resume at another location is refused while still idle, and resumes where it was', async () => {
  const dir = join(root, 'moved')
  const first = await start('moved', dir, 0, { colleagueId: 'mover' })
  await within(first.colleague.bootstrap(), 'bootstrap')
  await within(first.colleague.enqueue('before the move'), 'enqueue')
  await within(first.colleague.shutdown(), 'shutdown')
  // Port 0 again: another port, so another location than the governments name.
  const moved = await start('moved', dir, 0, { colleagueId: 'mover' })
  try {
    assert.notEqual(moved.url, first.url)
    await assert.rejects(
      within(moved.colleague.bootstrap(), 'a resume at another location'),
      (error: unknown) => isColleagueError(error) && error.code === 'LOCATION_CHANGED' && error.message.includes(first.url),
    )
    assert.equal(moved.colleague.health().state, 'idle')
    assert.deepEqual(moved.app.values, [], 'nothing was restored or applied')
  } finally {
    await within(moved.colleague.shutdown(), 'shutdown')
  }
  // Advertising the old URL (a proxy or a port forward there) resumes it.
  const back = await start('moved', dir, 0, { colleagueId: 'mover', location: first.url })
  try {
    await within(back.colleague.bootstrap(), 'the resume at the old location')
    assert.deepEqual(back.app.values, ['before the move'])
  } finally {
    await within(back.colleague.shutdown(), 'shutdown')
  }
})

test('a snapshot records every submission applied up to it, so that a member restarted from it still knows them as applied', async () => {
  // A restarted member takes its submitter ledger from the snapshot: one that
  // missed the values applied since the last government would apply a
  // resubmission of one of them again, where the other members would not.
  const dir = join(root, 'ledger')
  const solo = await start('ledger', dir, 0)
  await within(solo.colleague.bootstrap(), 'bootstrap')
  for (let n = 0; n < 40; n++) await within(solo.colleague.enqueue({ n }), `enqueue ${n}`)
  const id = solo.colleague.colleagueId
  await within(solo.colleague.shutdown(), 'shutdown')
  const { store, recovered } = DurableStore.open({ directory: dir }, { islandName: 'ledger' })
  try {
    const snapshot = recovered?.snapshot
    assert.ok(snapshot !== undefined, 'a snapshot was written')
    const inSnapshot = (snapshot.state as { values: unknown[] }).values.length
    assert.ok(inSnapshot >= 16, `the snapshot holds ${inSnapshot} values`)
    // Each value was this member's next submission: seqs 1 to inSnapshot are applied.
    const [watermark = -1] = snapshot.submitters[id] ?? []
    assert.ok(watermark >= inSnapshot, `the ledger in the snapshot has ${id} applied up to seq ${watermark}, not ${inSnapshot}`)
  } finally {
    store.close()
  }
})

test('a directory of another island or another colleague is refused at construction', async () => {
  const dir = join(root, 'owned')
  const owner = await start('owner', dir, 0, { colleagueId: 'x' })
  await within(owner.colleague.bootstrap(), 'bootstrap')
  await within(owner.colleague.shutdown(), 'shutdown')
  for (const overrides of [{ islandName: 'other' }, { colleagueId: 'y' }]) {
    assert.throws(
      () =>
        new Colleague({
          islandName: 'owner',
          ...overrides,
          storage: { directory: dir },
          application: { entry: () => {}, snapshot: () => null, restore: () => {} },
        }),
      (error: unknown) => isColleagueError(error) && error.code === 'STORAGE_MISMATCH',
    )
  }
  assert.throws(
    () => new Colleague({ islandName: 'owner', storage: { directory: dir }, application: { entry: () => {} } }),
    (error: unknown) => isColleagueError(error) && error.code === 'INVALID_OPTIONS',
    'durable mode needs snapshot and restore',
  )
})

test("a snapshot the disk cannot take crashes the colleague with STORAGE_FAILED, not the application's failure", async () => {
  const dir = join(root, 'disk-full')
  const fileSystem = { ...nodeFileSystem, writeSyncedAsync: () => Promise.reject(new Error('ENOSPC: no space left on device')) }
  const solo = await start('full', dir, 0, { storage: { directory: dir, snapshotEveryEntries: 4, fileSystem } })
  const crashed = new Promise<unknown>((resolve) => solo.colleague.once('crash', resolve))
  // The first snapshot is taken once the founder holds the state: the disk refuses it.
  await within(solo.colleague.bootstrap(), 'bootstrap').catch(() => {})
  for (let n = 0; n < 8 && solo.colleague.health().crash === null; n++) await solo.colleague.enqueue({ n }).catch(() => {})
  const error = await within(crashed, 'the crash')
  assert.ok(isColleagueError(error), String(error))
  assert.equal(error.code, 'STORAGE_FAILED', error.message)
  assert.match(error.message, /snapshot/)
  assert.match(String((error.cause as Error | undefined)?.message), /ENOSPC/)
  await solo.colleague.shutdown().catch(() => {})
})

test('a snapshot() state JSON cannot carry exactly crashes a durable member loudly instead of writing another state to its disk', async () => {
  const dir = join(root, 'nan-state')
  let n = 0
  const solo = new Colleague({
    islandName: 'nan-state',
    colleagueId: 'a',
    host: '127.0.0.1',
    port: 0,
    ...TEST_TIMING,
    storage: { directory: dir, snapshotEveryEntries: 4 },
    // Plain JSON would write `{"n":null}`: a restart would restore null where the member held NaN.
    application: { entry: () => void n++, snapshot: () => ({ n: n > 2 ? Number.NaN : n }), restore: () => {} },
  })
  const crashed = new Promise<unknown>((resolve) => solo.once('crash', resolve))
  try {
    await solo.listen()
    await within(solo.bootstrap(), 'bootstrap')
    for (let value = 0; value < 12 && solo.health().crash === null; value++) await solo.enqueue({ value }).catch(() => {})
    const error = await within(crashed, 'the crash')
    assert.ok(isColleagueError(error), String(error))
    assert.equal(error.code, 'APPLICATION_FAILED', error.message)
    assert.match(String((error.cause as Error | undefined)?.message), /snapshot\(\) returned a state JSON cannot carry/)
    // No snapshot holds a state other than the one taken.
    const written = readdirSync(dir).filter((name) => name.endsWith('.snap'))
    for (const name of written) assert.doesNotMatch(readFileSync(join(dir, name), 'utf8'), /"n":null/, name)
  } finally {
    await solo.shutdown().catch(() => {})
  }
})
