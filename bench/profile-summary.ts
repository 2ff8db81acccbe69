// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench --
// --profile`): the functions with the most self time, and the share of idle
// time. Usage: node dist/bench/profile-summary.js FILE [--top N]

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: readonly number[]
}

interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
const top = Number(values.top)

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0
    total += delta
    const frame = byId.get(id)?.callFrame
    const where = frame?.url.replace(/^.*\/(node_modules|dist)\//, '$1/') ?? ''
    const name = `${frame?.functionName || '(anonymous)'} ${where}:${(frame?.lineNumber ?? 0) + 1}`
    self.set(name, (self.get(name) ?? 0) + delta)
  })
  const idle = [...self.entries()].filter(([name]) => name.startsWith('(idle)')).reduce((sum, [, time]) => sum + time, 0)
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${((100 * idle) / total).toFixed(1)}% idle`)
  const busy = total - idle
  for (const [name, time] of [...self.entries()].filter(([n]) => !n.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * time) / busy).toFixed(1).padStart(5)}% of busy  ${(time / 1000).toFixed(0).padStart(6)} ms  ${name}`)
  }
}
