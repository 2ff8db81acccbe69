// Real `serve --data-dir` processes on loopback: every member SIGKILLed at
// once while writes are in flight, restarted with the same command lines on
// the same directories, and every acknowledged write is found on every
// member. Then one member's newest log file is cut mid-record before its
// restart: the torn record is dropped and the member catches up.

import { mkdtemp, readdir, readFile, rm, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { callJson } from '../src/cli/http-client.js'
import { spawnMember, type MemberProcess } from '../src/cli/member-process.js'
import { scanRecords } from '../src/storage/records.js'
import { reservedPort } from './ports.js'

const READY_TIMEOUT_MS = 30_000
const WAIT_MS = 30_000
const CALL_TIMEOUT_MS = 5_000
const CONCURRENCY = 16
/** Acknowledged writes before the whole island is killed, writes still in flight. */
const WRITES_BEFORE_KILL = 150
/** `--snapshot-every`: members snapshot at its multiples. */
const SNAPSHOT_EVERY = 100
/**
 * The kill comes when the first member's commit point is this far past a
 * multiple of SNAPSHOT_EVERY: the members' commit points lie a few positions
 * apart, so one may stop below the multiple that the others snapshotted at.
 * Their logs still hold one interval below their snapshots, so it catches up
 * from them rather than being exiled. (Catching up from a member that holds
 * what the leader trimmed is legislator-lagging.test.ts's.)
 */
const KILL_PAST_SNAPSHOT = [1, 12] as const

const started: MemberProcess[] = []
let root = ''

after(async () => {
  await Promise.all(started.map((member) => member.stop(2_000)))
  if (root !== '') await rm(root, { recursive: true, force: true })
})

interface Node {
  readonly id: string
  readonly port: number
  readonly dir: string
  readonly args: readonly string[]
  process: MemberProcess | null
}

function launch(node: Node): MemberProcess {
  const member = spawnMember({
    name: node.id,
    readyTimeoutMs: READY_TIMEOUT_MS,
    args: [
      '--island', 'durable', '--bind', `127.0.0.1:${node.port}`, '--ping-ms', '100', '--timeout-ms', '600',
      '--log-level', process.env['DURABLE_LOG_LEVEL'] ?? 'warn', '--data-dir', node.dir, '--snapshot-every', String(SNAPSHOT_EVERY), ...node.args,
    ],
  })
  started.push(member)
  node.process = member
  return member
}

async function ready(member: MemberProcess): Promise<string> {
  try {
    return await member.ready
  } catch (error) {
    throw new Error(`${String(error)}\n${member.stderrTail()}`)
  }
}

function url(node: Node): string {
  return `http://127.0.0.1:${node.port}`
}

/** Writes distinct keys (numbered from `first`) through every member until stopped; records what was acknowledged. */
function writeLoad(nodes: readonly Node[], acknowledged: Map<string, number>, first = 0): { stop(): Promise<void> } {
  let running = true
  let next = first
  const workers = Array.from({ length: CONCURRENCY }, async (_, worker) => {
    while (running) {
      const n = next++
      const key = `k${n}`
      const node = nodes[(n + worker) % nodes.length] as Node
      const answer = await callJson(`${url(node)}/kv/${key}`, { method: 'PUT', body: n, timeoutMs: CALL_TIMEOUT_MS }).catch(
        () => null,
      )
      if (answer?.status === 200) acknowledged.set(key, n)
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
  return {
    async stop() {
      running = false
      await Promise.all(workers)
    },
  }
}

async function poll(what: string, probe: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + WAIT_MS
  while (Date.now() < until) {
    if (await probe().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no ${what} within ${WAIT_MS} ms`)
}

/** Every acknowledged write is in the member's map, read after a barrier. */
async function holdsAll(node: Node, acknowledged: ReadonlyMap<string, number>): Promise<string[]> {
  const answer = await callJson(`${url(node)}/kv?consistent=1`, { timeoutMs: CALL_TIMEOUT_MS })
  if (answer.status !== 200) return [...acknowledged.keys()]
  const entries = (answer.body as { entries: { key: string; value: unknown }[] }).entries
  const map = new Map(entries.map((entry) => [entry.key, entry.value]))
  return [...acknowledged].filter(([key, value]) => map.get(key) !== value).map(([key]) => key)
}

async function commitOf(node: Node): Promise<number> {
  const health = await callJson(`${url(node)}/health`, { timeoutMs: CALL_TIMEOUT_MS })
  const commit = (health.body as { positions?: { commit?: unknown } }).positions?.commit
  if (typeof commit !== 'number') throw new Error(`no commit point in ${node.id}'s health: ${JSON.stringify(health.body)}`)
  return commit
}

/** Writes through `nodes` until `count` more distinct keys (numbered from `first`) were acknowledged; in-flight ones finish. */
async function writeCount(nodes: readonly Node[], acknowledged: Map<string, number>, first: number, count: number): Promise<void> {
  const target = acknowledged.size + count
  const load = writeLoad(nodes, acknowledged, first)
  try {
    await poll(`${count} acknowledged writes`, async () => acknowledged.size >= target)
  } finally {
    await load.stop()
  }
}

async function newestSegment(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((name) => name.startsWith('wal-')).sort()
  const newest = names.at(-1)
  if (newest === undefined) throw new Error(`no log in ${dir}`)
  return join(dir, newest)
}

/**
 * Cuts the last 5 bytes of a member's newest log file, as a crash in the
 * middle of writing its last flush would leave it. A segment that holds only
 * its header cannot be torn so: the header is synced before the segments it
 * replaces are deleted, and a crash after that leaves it whole. So the cut
 * goes to the first member (c, b, a) whose newest segment ends in a flush.
 */
async function cutNewestFlush(nodes: readonly Node[]): Promise<void> {
  for (const node of [...nodes].reverse()) {
    const segment = await newestSegment(node.dir)
    const scanned = scanRecords({ whole: await readFile(segment) }, true, () => {})
    if (!scanned.ok || scanned.records < 2) continue
    await truncate(segment, scanned.validBytes - 5)
    return
  }
  throw new Error('no member\'s newest log segment ends in a flush record')
}

/** SIGKILLs every member while `load` writes, once `count` more writes were acknowledged. */
async function killAllDuringWrites(nodes: readonly Node[], acknowledged: Map<string, number>, count: number): Promise<void> {
  const target = acknowledged.size + count
  const load = writeLoad(nodes, acknowledged)
  await poll(`${count} acknowledged writes`, async () => acknowledged.size >= target)
  await poll('a commit point just past a snapshot', async () => {
    const health = await callJson(`${url(nodes[0] as Node)}/health`, { timeoutMs: CALL_TIMEOUT_MS })
    const commit = (health.body as { positions?: { commit?: number } }).positions?.commit ?? 0
    const past = commit % SNAPSHOT_EVERY
    return past >= KILL_PAST_SNAPSHOT[0] && past <= KILL_PAST_SNAPSHOT[1]
  })
  for (const node of nodes) node.process?.kill('SIGKILL')
  await Promise.all(nodes.map((node) => node.process?.exited))
  await load.stop()
}

async function expectAll(nodes: readonly Node[], acknowledged: ReadonlyMap<string, number>): Promise<void> {
  for (const node of nodes) {
    let missing: string[] = []
    await poll(`every acknowledged write on ${node.id}`, async () => {
      missing = await holdsAll(node, acknowledged)
      return missing.length === 0
    }).catch((error: unknown) => {
      const tails = nodes.map((each) => `--- ${each.id}\n${each.process?.stderrTail() ?? ''}`).join('\n')
      throw new Error(`${String(error)}: ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}\n${tails}`)
    })
  }
}

/** Three members, each in its own directory under `name`, started one after the other: a founds, b and c join. */
async function startIsland(name: string): Promise<[Node, Node, Node]> {
  if (root === '') root = await mkdtemp(join(tmpdir(), 'paxos-cli-durable-'))
  const ports = [await reservedPort(), await reservedPort(), await reservedPort()]
  const a: Node = { id: 'a', port: ports[0] as number, dir: join(root, name, 'a'), args: ['--bootstrap'], process: null }
  const joinArgs = ['--join', url(a)]
  const b: Node = { id: 'b', port: ports[1] as number, dir: join(root, name, 'b'), args: joinArgs, process: null }
  const c: Node = { id: 'c', port: ports[2] as number, dir: join(root, name, 'c'), args: joinArgs, process: null }
  for (const node of [a, b, c]) await ready(launch(node))
  return [a, b, c]
}

test('SIGKILL of every member mid-write, restart on the same directories: no acknowledged write is lost', async () => {
  const nodes = await startIsland('mid-write')
  const c = nodes[2]
  const acknowledged = new Map<string, number>()

  // Every process at once, writes in flight; then the same command lines again (what a supervisor does).
  await killAllDuringWrites(nodes, acknowledged, WRITES_BEFORE_KILL)
  await Promise.all(nodes.map((node) => ready(launch(node))))
  await expectAll(nodes, new Map(acknowledged))

  // Again, and this time one member's newest log file is cut mid-record before the restart.
  await killAllDuringWrites(nodes, acknowledged, WRITES_BEFORE_KILL)
  await cutNewestFlush(nodes)
  await Promise.all(nodes.map((node) => ready(launch(node))))
  await expectAll(nodes, new Map(acknowledged))
  // The island takes writes again (once it has elected a leader: a loaded machine may need a few tries).
  let after: { status: number; body: unknown } | null = null
  await poll('a write after the restart', async () => {
    after = await callJson(`${url(c)}/kv/after-restart`, { method: 'PUT', body: 1, timeoutMs: CALL_TIMEOUT_MS })
    return after.status === 200
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}: last answer ${JSON.stringify(after)}\n${c.process?.stderrTail()}`)
  })
})

test('a member stopped behind while the others snapshot past it, then every member killed: restarted, it catches up from the log kept below their snapshots', async () => {
  const nodes = await startIsland('behind')
  const [a, b, c] = nodes
  const acknowledged = new Map<string, number>()
  await writeCount(nodes, acknowledged, 0, 40)
  await poll('c up to date', async () => (await commitOf(c)) >= (await commitOf(a)))
  const behind = await commitOf(c)
  c.process?.kill('SIGSTOP')
  // a and b go on alone past the next multiple, where both snapshot, and not
  // as far as the one after it (16 writes may be in flight when it stops).
  const multiple = (Math.floor(behind / SNAPSHOT_EVERY) + 1) * SNAPSHOT_EVERY
  await writeCount([a, b], acknowledged, 1_000, multiple - behind + 5)
  assert.ok((await commitOf(a)) < multiple + SNAPSHOT_EVERY, 'a stopped short of the next multiple')
  const snapshot = `snapshot-${String(multiple).padStart(16, '0')}.snap`
  await poll(`a snapshot at ${multiple} on a and b`, async () => {
    const held = await Promise.all([a, b].map(async (node) => (await readdir(node.dir)).includes(snapshot)))
    return held.every(Boolean)
  })
  for (const node of nodes) node.process?.kill('SIGKILL')
  await Promise.all(nodes.map((node) => node.process?.exited))
  // Restarted, a and b resume from their snapshot at the multiple; c's log
  // ends at `behind`, below it. What c lacks is in what a and b kept below it.
  await Promise.all(nodes.map((node) => ready(launch(node))))
  await expectAll(nodes, new Map(acknowledged))
  assert.ok((await commitOf(c)) >= multiple, `c caught up past ${multiple} from ${behind}`)
})
