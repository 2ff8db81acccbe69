// An embedded member: a process that runs a Colleague with the kv
// application in-process and, on its parent's command over IPC, drives
// `colleague.enqueue` itself (the embedded case) or fills the log (the
// memory case). Forked by run.ts with --expose-gc.

import { getHeapSpaceStatistics } from 'node:v8'
import { Colleague } from '../src/index.js'
import { KvStore } from '../src/cli/kv-store.js'
import { closedLoop, keyOf, valueOf, type LoadSpec } from './load.js'

export type MemberCommand =
  | { type: 'start'; id: string; bootstrap: boolean; join: string | null; pingMs: number; timeoutMs: number }
  | { type: 'health' }
  | { type: 'load'; spec: LoadSpec }
  | { type: 'fill'; count: number; concurrency: number; timeoutMs: number }
  | { type: 'memory' }

export type MemberReply =
  | { type: 'ready'; url: string }
  | { type: 'health'; health: unknown }
  | { type: 'load'; result: unknown }
  | { type: 'fill'; done: number; elapsedMs: number; timedOut: boolean }
  | {
      type: 'memory'
      rss: number
      heapUsed: number
      heapTotal: number
      external: number
      arrayBuffers: number
      /** V8 heap space name to its reserved size in bytes. */
      spaces: Record<string, number>
    }
  | { type: 'window'; phase: 'start' | 'end' }
  | { type: 'error'; message: string }

let colleague: Colleague | null = null
const store = new KvStore()

function reply(message: MemberReply): void {
  process.send?.(message)
}

async function enqueueOne(index: number): Promise<void> {
  await (colleague as Colleague).enqueue({ kv: 'put', key: keyOf(index), value: valueOf(index) })
}

async function start(command: Extract<MemberCommand, { type: 'start' }>): Promise<void> {
  colleague = new Colleague({
    islandName: 'bench-embedded',
    colleagueId: command.id,
    pingMs: command.pingMs,
    timeoutMs: command.timeoutMs,
    application: {
      entry: (entry) => store.entry(entry),
      snapshot: () => store.snapshot(),
      restore: (state) => store.restore(state),
    },
  })
  colleague.on('crash', (error) => {
    process.stderr.write(`member ${command.id} crashed: ${error.message}\n`)
    process.exit(1)
  })
  const { url } = await colleague.listen()
  if (command.bootstrap) await colleague.bootstrap()
  else await colleague.join(command.join ?? '')
  reply({ type: 'ready', url })
}

/** Enqueues `count` entries, `concurrency` at a time, bounded by `timeoutMs` overall. */
async function fill(count: number, concurrency: number, timeoutMs: number): Promise<void> {
  const started = performance.now()
  const deadline = started + timeoutMs
  let next = 0
  let done = 0
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      await enqueueOne(next++)
      done++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()))
  reply({ type: 'fill', done, elapsedMs: performance.now() - started, timedOut: done < count })
}

function memory(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const usage = process.memoryUsage()
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = usage
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]))
  reply({ type: 'memory', rss, heapUsed, heapTotal, external, arrayBuffers, spaces })
}

async function handle(command: MemberCommand): Promise<void> {
  switch (command.type) {
    case 'start':
      return start(command)
    case 'health':
      return reply({ type: 'health', health: colleague?.health() ?? null })
    case 'load':
      return reply({ type: 'load', result: await closedLoop(enqueueOne, command.spec, (phase) => reply({ type: 'window', phase })) })
    case 'fill':
      return fill(command.count, command.concurrency, command.timeoutMs)
    case 'memory':
      return memory()
  }
}

process.on('message', (command: MemberCommand) => {
  handle(command).catch((error: unknown) =>
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  )
})
// Never outlive the benchmark, however it ended.
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => {
  void (colleague?.shutdown() ?? Promise.resolve()).finally(() => process.exit(0))
})
