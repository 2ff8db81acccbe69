// The status page in a real browser: headless Chromium (Debian's `chromium`,
// driven through playwright-core) watches a three-member island of `serve`
// processes on loopback. It must find every member and the leader marked;
// after the leader is killed with SIGKILL, both the page served by a follower
// and the page served by the dead leader must show the new leader and the
// exile, and the latter must say that its member is gone. Screenshots are
// written as test artifacts (PAXOS_TEST_ARTIFACTS, default test-artifacts/).

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { callJson } from '../src/cli/http-client.js'
import { spawnMember, type MemberProcess } from '../src/cli/member-process.js'

const CHROMIUM = process.env['PAXOS_CHROMIUM'] ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const READY_TIMEOUT_MS = 20_000
/** Bounds on waits; generous because the machine running the tests may be busy. */
const WAIT_MS = 30_000
const ARTIFACTS = resolve(
  process.env['PAXOS_TEST_ARTIFACTS'] ?? fileURLToPath(new URL('../../test-artifacts/', import.meta.url)),
)

const started: MemberProcess[] = []
let context: BrowserContext | null = null
let profile: string | null = null

after(async () => {
  await context?.close().catch(() => {})
  await Promise.all(started.map((member) => member.stop(2_000)))
  if (profile !== null) await rm(profile, { recursive: true, force: true })
})

function start(id: string, args: readonly string[]): MemberProcess {
  const member = spawnMember({
    name: id,
    readyTimeoutMs: READY_TIMEOUT_MS,
    args: ['--island', 'browser', '--bind', '127.0.0.1:0', '--id', id, '--ping-ms', '100', '--timeout-ms', '1000', '--log-level', 'warn', ...args],
  })
  started.push(member)
  return member
}

async function ready(member: MemberProcess): Promise<string> {
  try {
    return await member.ready
  } catch (error) {
    throw new Error(`${String(error)}\n${member.stderrTail()}`)
  }
}

async function parliamentOfThree(url: string): Promise<void> {
  const until = Date.now() + WAIT_MS
  while (Date.now() < until) {
    const answer = await callJson(`${url}/health`, { timeoutMs: 2_000 }).catch(() => null)
    const government = (answer?.body as { government?: { majority: string[]; minority: string[]; naturalized: string[] } } | undefined)?.government
    if (government !== undefined && government.majority.length + government.minority.length === 3) return
    await new Promise((resolveWait) => setTimeout(resolveWait, 50))
  }
  throw new Error(`no parliament of three at ${url} within ${WAIT_MS} ms`)
}

/** A few writes so that the throughput line has something to draw. */
async function write(url: string, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    await callJson(`${url}/kv/key-${n}`, { method: 'PUT', body: { n }, timeoutMs: 5_000 })
  }
}

// What runs inside the page: functions, not source text, so that the page's
// CSP (no 'unsafe-eval') holds while the test drives it. This project's
// TypeScript knows Node, not the DOM: the little of it used here is declared.
interface PageElement {
  readonly textContent: string | null
  readonly dataset: Readonly<Record<string, string | undefined>>
}
interface PageDocument {
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number }
  querySelector(selector: string): PageElement | null
  getElementById(id: string): PageElement | null
}
declare const document: PageDocument

const SHOWN = (): { leader: string; rows: Record<string, string> } => {
  const rows: Record<string, string> = {}
  for (const row of document.querySelectorAll('#members tr[data-member]')) rows[row.dataset['member'] ?? ''] = row.dataset['role'] ?? ''
  return { leader: document.getElementById('leader')?.textContent ?? '', rows }
}
const THREE_MEMBERS_M1_LEADS = (): boolean =>
  document.querySelectorAll('#members tr[data-member]').length === 3 && document.getElementById('leader')?.textContent === 'm1'
const SPARKLINE_DRAWN = (): boolean => document.querySelectorAll('#sparkline polyline').length === 1
const NEW_LEADER_M1_EXILED = (): boolean =>
  ['m2', 'm3'].includes(document.getElementById('leader')?.textContent ?? '') && document.querySelector('[data-exiled="m1"]') !== null

async function leaderShown(page: Page): Promise<{ leader: string; rows: Record<string, string> }> {
  return page.evaluate(SHOWN)
}

test('the status page shows the island in Chromium and follows it through the loss of its leader', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set PAXOS_CHROMIUM; CI installs it`)
    return
  }
  const m1 = start('m1', ['--bootstrap'])
  const url1 = await ready(m1)
  const m2 = start('m2', ['--join', url1])
  const url2 = await ready(m2)
  const m3 = start('m3', ['--join', url1])
  await ready(m3)
  await parliamentOfThree(url1)

  profile = await mkdtemp(join(tmpdir(), 'paxos-status-chromium-'))
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  })
  context.setDefaultTimeout(WAIT_MS)
  const fromLeader = await context.newPage()
  const fromFollower = await context.newPage()
  const pageErrors: string[] = []
  for (const page of [fromLeader, fromFollower]) page.on('pageerror', (error) => pageErrors.push(error.message))
  await fromLeader.goto(`${url1}/status`)
  await fromFollower.goto(`${url2}/status`)

  for (const page of [fromLeader, fromFollower]) {
    await page.waitForFunction(THREE_MEMBERS_M1_LEADS, undefined, { timeout: WAIT_MS })
    const shown = await leaderShown(page)
    assert.deepEqual(shown.rows, { m1: 'leader', m2: 'parliament', m3: 'parliament' })
    assert.equal(await page.locator('[data-parliament="m1"]').textContent(), 'm1 \u2605 leader')
  }
  await write(url2, 30)
  await fromFollower.waitForFunction(SPARKLINE_DRAWN, undefined, { timeout: WAIT_MS })
  await mkdir(ARTIFACTS, { recursive: true })
  await fromFollower.screenshot({ path: join(ARTIFACTS, 'status.png'), fullPage: true })

  m1.kill('SIGKILL')
  await fromFollower.waitForFunction(NEW_LEADER_M1_EXILED, undefined, { timeout: WAIT_MS })
  await fromLeader.waitForFunction(NEW_LEADER_M1_EXILED, undefined, { timeout: WAIT_MS })
  const banner = await fromLeader.locator('#banner').textContent()
  assert.match(banner ?? '', /^m1 \(http:\/\/127\.0\.0\.1:\d+\), which served this page, is gone/)
  assert.equal(await fromFollower.locator('#banner').textContent(), '', 'the follower page has nothing to warn about')
  const leader = (await leaderShown(fromFollower)).leader
  assert.equal((await leaderShown(fromLeader)).leader, leader)
  const timeline = await fromFollower.locator('#timeline').textContent()
  assert.match(timeline ?? '', new RegExp(`${leader} elected leader`))
  assert.match(timeline ?? '', /m1 exiled/)
  await write(url2, 10)
  await fromLeader.screenshot({ path: join(ARTIFACTS, 'status-after-failover.png'), fullPage: true })
  await fromFollower.screenshot({ path: join(ARTIFACTS, 'status-follower-after-failover.png'), fullPage: true })
  assert.deepEqual(pageErrors, [], 'no script errors on the page')
  t.diagnostic(`screenshots in ${ARTIFACTS}`)
})
