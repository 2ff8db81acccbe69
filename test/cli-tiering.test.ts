// `serve` has V8 optimize its functions sooner (src/cli/tiering.ts), unless
// node's own command line sets those flags: which flags it sets, and that a
// real `serve` process sets them and says so in its 'serving' log line.

import { strict as assert } from 'node:assert'
import { after, test } from 'node:test'
import { MAIN_PATH, spawnListening, type MemberProcess } from '../src/cli/member-process.js'
import { EAGER_TIERING, TIERING_V8, tieringFlags } from '../src/cli/tiering.js'

const READY_TIMEOUT_MS = 15_000
const ALL = EAGER_TIERING.map(([name, value]) => `--${name}=${value}`)
const V8 = `${TIERING_V8}.244.8-node.38`
/** What serve sets on this node's own V8: every flag on V8 11.3 (Node 20), none elsewhere. */
const HERE = tieringFlags([])

const started: MemberProcess[] = []

after(async () => {
  await Promise.all(started.map((member) => member.stop(2_000)))
})

test('every flag is set when node was started without any of them', () => {
  assert.deepEqual(tieringFlags([], V8), ALL)
  assert.deepEqual(tieringFlags(['--expose-gc', '--max-old-space-size=512', '--cpu-prof'], V8), ALL)
})

test('a flag given on node’s command line is left as given, in any of its spellings', () => {
  const [budget, invocations] = ALL
  assert.deepEqual(tieringFlags(['--interrupt-budget=1000'], V8), [invocations])
  assert.deepEqual(tieringFlags(['--interrupt_budget', '1000'], V8), [invocations])
  assert.deepEqual(tieringFlags(['--minimum_invocations_after_ic_update=7'], V8), [budget])
  assert.deepEqual(tieringFlags(['--interrupt-budget=1', '--minimum-invocations-after-ic-update=1'], V8), [])
})

test('no flag is set on another V8, which does not know --interrupt-budget', () => {
  assert.deepEqual(tieringFlags([], '11.8.172.17-node.20'), [])
  assert.deepEqual(tieringFlags([], '12.4.254.21-node.33'), [])
  assert.deepEqual(tieringFlags([], '10.2.154.26-node.26'), [])
})

/** A bootstrapped `serve` member started as `node ...nodeArgs main.js serve`: the v8Flags of its 'serving' log line. */
async function servingFlags(name: string, nodeArgs: readonly string[]): Promise<unknown> {
  const member = spawnListening({
    name,
    command: process.execPath,
    args: [...nodeArgs, MAIN_PATH, 'serve', '--island', 'tiering', '--bind', '127.0.0.1:0', '--id', name, '--bootstrap', '--log-level', 'info'],
    readyTimeoutMs: READY_TIMEOUT_MS,
    ipc: true,
  })
  started.push(member)
  try {
    await member.ready
  } catch (error) {
    throw new Error(`${String(error)}\n${member.stderrTail()}`)
  }
  // Written right after "listening URL", on the other pipe: it may reach us a little later.
  const until = Date.now() + READY_TIMEOUT_MS
  let serving: { v8Flags?: unknown } | undefined
  while (serving === undefined && Date.now() < until) {
    serving = member
      .stderrTail()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; v8Flags?: unknown })
      .find((entry) => entry.msg === 'serving')
    if (serving === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.ok(serving !== undefined, `no 'serving' line within ${READY_TIMEOUT_MS} ms in:\n${member.stderrTail()}`)
  await member.stop(5_000)
  return serving.v8Flags
}

test('a serve process sets the flags before it serves, and leaves one given to node alone', async () => {
  assert.deepEqual(await servingFlags('t1', []), HERE)
  assert.deepEqual(await servingFlags('t2', ['--interrupt-budget=20000']), HERE.filter((flag) => !flag.startsWith('--interrupt-budget')))
})
