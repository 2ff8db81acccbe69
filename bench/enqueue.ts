// Enqueue-to-apply on a 3-member in-process island over loopback HTTP:
// latency at concurrency 1 (p50, p99) and throughput at concurrency 64.
// Usage: npm run bench:enqueue -- [--runs N] [--latency-ops N] [--throughput-ms N]
// The machine is noisy: each run starts a fresh island, and the medians over
// runs are printed last.

import { parseArgs } from 'node:util'
import { Colleague } from '../src/index.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'latency-ops': { type: 'string', default: '2000' },
    'throughput-ms': { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '64' },
    'ping-ms': { type: 'string', default: '250' },
    'timeout-ms': { type: 'string', default: '1000' },
  },
})

const runs = Number(args.runs)
const latencyOps = Number(args['latency-ops'])
const throughputMs = Number(args['throughput-ms'])
const concurrency = Number(args.concurrency)
const pingMs = Number(args['ping-ms'])
const timeoutMs = Number(args['timeout-ms'])

interface RunResult {
  p50Ms: number
  p99Ms: number
  followerP50Ms: number
  enqueuesPerSecond: number
}

async function startIsland(): Promise<Colleague[]> {
  const members: Colleague[] = []
  let first = ''
  let applied = 0
  for (let index = 0; index < 3; index++) {
    const colleague = new Colleague({
      islandName: 'bench',
      colleagueId: `b${index}`,
      pingMs,
      timeoutMs,
      application: {
        entry: () => {
          applied++
        },
        snapshot: () => applied,
        restore: () => {},
      },
    })
    const { url } = await colleague.listen()
    if (index === 0) {
      first = url
      await colleague.bootstrap()
    } else {
      await colleague.join(first)
    }
    members.push(colleague)
  }
  // Let the island settle: naturalizations and promotion into a parliament of 3.
  const deadline = Date.now() + 10_000
  for (;;) {
    const government = members[0]?.health().government
    if (government && government.majority.length + government.minority.length === 3) break
    if (Date.now() > deadline) throw new Error('island did not settle')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return members
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

async function latency(colleague: Colleague): Promise<number[]> {
  for (let index = 0; index < 100; index++) await colleague.enqueue({ warmup: index })
  const samples: number[] = []
  for (let index = 0; index < latencyOps; index++) {
    const start = performance.now()
    await colleague.enqueue({ index })
    samples.push(performance.now() - start)
  }
  return samples.sort((a, b) => a - b)
}

async function throughput(members: readonly Colleague[]): Promise<number> {
  let done = 0
  let stop = false
  const worker = async (colleague: Colleague, id: number): Promise<void> => {
    while (!stop) {
      await colleague.enqueue({ worker: id, done })
      done++
    }
  }
  const started = performance.now()
  const workers = Array.from({ length: concurrency }, (_, id) => worker(members[id % members.length] as Colleague, id))
  await new Promise((resolve) => setTimeout(resolve, throughputMs))
  stop = true
  const counted = done
  const elapsed = performance.now() - started
  await Promise.all(workers)
  return (counted * 1000) / elapsed
}

async function run(): Promise<RunResult> {
  const members = await startIsland()
  try {
    const leaderId = members[0]?.health().leader
    const leader = members.find((member) => member.colleagueId === leaderId) as Colleague
    const follower = members.find((member) => member !== leader) as Colleague
    const samples = await latency(leader)
    const followerSamples = await latency(follower)
    const enqueuesPerSecond = await throughput(members)
    return {
      p50Ms: percentile(samples, 50),
      p99Ms: percentile(samples, 99),
      followerP50Ms: percentile(followerSamples, 50),
      enqueuesPerSecond,
    }
  } finally {
    await Promise.all(members.map((member) => member.shutdown()))
  }
}

const results: RunResult[] = []
for (let index = 0; index < runs; index++) {
  const result = await run()
  results.push(result)
  console.log(
    `run ${index + 1}: c=1 p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms ` +
      `(from a follower: p50 ${result.followerP50Ms.toFixed(3)} ms); ` +
      `c=${concurrency} ${Math.round(result.enqueuesPerSecond)} enqueues/s`,
  )
}
console.log(
  `median of ${runs}: c=1 p50 ${median(results.map((r) => r.p50Ms)).toFixed(3)} ms, ` +
    `p99 ${median(results.map((r) => r.p99Ms)).toFixed(3)} ms ` +
    `(from a follower: p50 ${median(results.map((r) => r.followerP50Ms)).toFixed(3)} ms); ` +
    `c=${concurrency} ${Math.round(median(results.map((r) => r.enqueuesPerSecond)))} enqueues/s`,
)
