// Two colleagues in one process share a replicated counter. In your own
// project, import from 'paxos-colleague' instead of '../src/index.js'.
import { Colleague } from '../src/index.js'

function counter(colleagueId: string): { colleague: Colleague; total: () => number } {
  let total = 0
  const colleague = new Colleague({
    islandName: 'counter',
    colleagueId,
    application: {
      entry: ({ value }) => void (total += value as number), // same entries, same order, everywhere
      snapshot: () => total, // what a newcomer receives out of band
      restore: (state) => void (total = state as number),
    },
  })
  return { colleague, total: () => total }
}

const a = counter('a')
const b = counter('b')
const { url } = await a.colleague.listen()
await a.colleague.bootstrap() // a founds the island and leads it
await a.colleague.enqueue(5) // resolves once committed and applied on a
await b.colleague.listen()
await b.colleague.join(url) // b is admitted and restores total = 5
await b.colleague.enqueue(2) // forwarded to the leader, applied on b
await a.colleague.enqueue(0) // applied on a after b's 2: both now hold 7
console.log(`a: ${a.total()}, b: ${b.total()}`)
await b.colleague.shutdown()
await a.colleague.shutdown()
