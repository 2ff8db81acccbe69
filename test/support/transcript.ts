// A transcript driver for the legislator in the manner of etcd-raft's
// interaction tests: a text file of commands, each followed by what the island
// printed. `REWRITE=1` regenerates the expected output for review as a diff.

import { Legislator } from '../../src/paxos/legislator.js'
import type { Committed, Envelope, Message } from '../../src/paxos/types.js'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
const STABILIZE_ROUNDS_MAX = 2000

interface Member {
  readonly legislator: Legislator
  readonly applied: string[]
  commitSeen: number
}

export class TranscriptIsland {
  readonly #members = new Map<string, Member>()
  readonly #crashed = new Set<string>()
  /** Directed links that drop everything: `from>to`. */
  readonly #cut = new Set<string>()
  #queue: Envelope[] = []
  #seed = 1
  readonly #options: { parliamentSize: number; timeoutTicks: number }

  constructor(options: { parliamentSize?: number; timeoutTicks?: number } = {}) {
    this.#options = { parliamentSize: options.parliamentSize ?? 5, timeoutTicks: options.timeoutTicks ?? 5 }
  }

  run(command: string): string[] {
    const [verb = '', ...args] = command.trim().split(/\s+/)
    switch (verb) {
      case 'island':
        return this.#island(Number(args[0]))
      case 'enqueue':
        return this.#enqueue(arg(args, 0), arg(args, 1))
      case 'flush':
        return this.#flush(args)
      case 'deliver':
        return this.#deliver(args)
      case 'tick':
        return this.#tick(args)
      case 'stabilize':
        return this.#stabilize()
      case 'crash':
        for (const id of args) this.#crashed.add(id)
        return []
      case 'isolate':
        return this.#isolate(args)
      case 'heal':
        this.#cut.clear()
        return []
      case 'join':
        return this.#join(arg(args, 0), arg(args, 1))
      case 'show':
        return this.#show(args)
      case 'leave': {
        const refusal = this.#member(arg(args, 0)).legislator.leave()
        return [`${arg(args, 0)} leaves: ${refusal ?? 'ok'}`]
      }
      default:
        throw new Error(`unknown transcript command: ${command}`)
    }
  }

  #random(): () => number {
    // Per-member deterministic stream: election backoff differs per member.
    let state = this.#seed++ * 7919
    return () => {
      state = (state * 48271) % 2147483647
      return state / 2147483647
    }
  }

  #add(id: string): Member {
    const legislator = new Legislator({
      id,
      random: this.#random(),
      parliamentSize: this.#options.parliamentSize,
      timeoutTicks: this.#options.timeoutTicks,
    })
    const member: Member = { legislator, applied: [], commitSeen: -1 }
    this.#members.set(id, member)
    return member
  }

  #live(): [string, Member][] {
    return [...this.#members].filter(([id]) => !this.#crashed.has(id))
  }

  #island(size: number): string[] {
    const founder = this.#add('a')
    founder.legislator.bootstrap('island', { location: 'a' })
    this.#stabilize()
    for (const id of IDS.slice(1, size)) {
      this.#add(id)
      founder.legislator.immigrate(id, { location: id })
      this.#stabilize()
    }
    return this.#show([])
  }

  #join(id: string, via: string): string[] {
    this.#add(id)
    const refusal = this.#member(via).legislator.immigrate(id, { location: id })
    return [`immigrate ${id} via ${via}: ${refusal ?? 'ok'}`]
  }

  #enqueue(id: string, value: string): string[] {
    const result = this.#member(id).legislator.enqueue(value)
    return [result.ok ? `${id} enqueued ${value} as ${result.from}/${result.seq}` : `${id} refused: ${result.code}`]
  }

  #member(id: string): Member {
    const member = this.#members.get(id)
    if (member === undefined) throw new Error(`no member ${id}`)
    return member
  }

  /** Collects ready() of the named (default: all live) members into the network queue. */
  #flush(ids: readonly string[]): string[] {
    const lines: string[] = []
    const targets = ids.length > 0 ? ids.map((id): [string, Member] => [id, this.#member(id)]) : this.#live()
    for (const [id, member] of targets) {
      if (this.#crashed.has(id)) continue
      const ready = member.legislator.ready()
      for (const envelope of ready.messages) this.#queue.push(envelope)
      for (const committed of ready.committed) lines.push(...this.#applied(id, member, committed))
    }
    return lines
  }

  #applied(id: string, member: Member, committed: Committed): string[] {
    member.commitSeen = committed.position
    const { entry } = committed
    if (entry.type === 'government') {
      const government = entry.government
      // A newcomer holds the state at once in transcripts; it declares it.
      if (government.arrived[id] === government.promise && government.number > 1) member.legislator.naturalize()
      return []
    }
    if (entry.type === 'value' && committed.apply) member.applied.push(String(entry.submission.value))
    return []
  }

  /** `deliver` all; `deliver a>b` only that link; `deliver drop a>b` discards it. */
  #deliver(args: readonly string[]): string[] {
    const drop = args[0] === 'drop'
    const filter = drop ? args[1] : args[0]
    const lines: string[] = []
    const keep: Envelope[] = []
    const queue = this.#queue
    this.#queue = []
    for (const envelope of queue) {
      const link = `${envelope.from}>${envelope.to}`
      if (filter !== undefined && link !== filter) {
        keep.push(envelope)
        continue
      }
      const lost = drop || this.#cut.has(link) || this.#crashed.has(envelope.to) || this.#crashed.has(envelope.from)
      lines.push(`${lost ? 'dropped' : 'delivered'} ${link} ${describe(envelope.message)}`)
      if (!lost) this.#members.get(envelope.to)?.legislator.receive(envelope.from, envelope.message)
    }
    this.#queue = [...keep, ...this.#queue]
    return lines
  }

  #tick(args: readonly string[]): string[] {
    const times = Number(args.find((arg) => arg.startsWith('x'))?.slice(1) ?? 1)
    const ids = args.filter((arg) => !arg.startsWith('x'))
    // Time passes with the network running: each tick is followed by a flush and delivery.
    for (let i = 0; i < times; i++) {
      for (const [id, member] of this.#live()) if (ids.length === 0 || ids.includes(id)) member.legislator.tick()
      this.#flush([])
      this.#deliverQuietly()
    }
    return []
  }

  #isolate(ids: readonly string[]): string[] {
    for (const id of ids) {
      for (const other of this.#members.keys()) {
        if (other === id) continue
        this.#cut.add(`${id}>${other}`)
        this.#cut.add(`${other}>${id}`)
      }
    }
    return []
  }

  /** Flush and deliver until quiet, ticking so heartbeats and elections run. */
  #stabilize(): string[] {
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      this.#flush([])
      if (this.#queue.length > 0) {
        this.#deliverQuietly()
        continue
      }
      if (this.#settled()) return []
      for (const [, member] of this.#live()) member.legislator.tick()
    }
    return ['stabilize: did not settle']
  }

  #deliverQuietly(): void {
    const queue = this.#queue
    this.#queue = []
    for (const envelope of queue) {
      const link = `${envelope.from}>${envelope.to}`
      if (this.#cut.has(link) || this.#crashed.has(envelope.to) || this.#crashed.has(envelope.from)) continue
      this.#members.get(envelope.to)?.legislator.receive(envelope.from, envelope.message)
    }
  }

  /** Settled: the newest leader leads its own government and every member it reaches has caught up. */
  #settled(): boolean {
    const live = this.#live().filter(([, member]) => member.legislator.role !== 'exiled')
    let leader: [string, Member] | undefined
    for (const entry of live) {
      const government = entry[1].legislator.government
      if (!entry[1].legislator.isLeader || government?.majority[0] !== entry[0]) continue
      if (leader === undefined || government.number > (leader[1].legislator.government?.number ?? 0)) leader = entry
    }
    if (leader === undefined) return false
    const [leaderId, { legislator }] = leader
    if (legislator.inspect().inflightPositions > 0) return false
    return live.every(
      ([id, member]) =>
        this.#cut.has(`${leaderId}>${id}`) ||
        (member.legislator.commit === legislator.commit && member.legislator.pending === 0 && member.legislator.role !== 'newcomer'),
    )
  }

  #show(ids: readonly string[]): string[] {
    const lines: string[] = []
    for (const [id, member] of this.#members) {
      if (ids.length > 0 && !ids.includes(id)) continue
      const { legislator } = member
      const government = legislator.government
      const state = this.#crashed.has(id) ? 'crashed' : legislator.role
      const summary =
        government === null
          ? 'no government'
          : `government ${government.promise} majority [${government.majority.join(' ')}] minority [${government.minority.join(' ')}] constituents [${government.constituents.join(' ')}]` +
            (government.exiled.length > 0 ? ` exiled [${government.exiled.join(' ')}]` : '')
      lines.push(`${id}: ${state} commit ${legislator.commit} ${summary}`)
      lines.push(`${id}: applied [${member.applied.join(' ')}]`)
    }
    return lines
  }
}

function arg(args: readonly string[], index: number): string {
  const value = args[index]
  if (value === undefined) throw new Error(`missing argument ${index + 1}`)
  return value
}

function describe(message: Message): string {
  const ballot = 'ballot' in message ? `${message.ballot.round}:${message.ballot.id}` : ''
  switch (message.type) {
    case 'prepare':
      return `prepare ${ballot} from ${message.from}`
    case 'promise':
      return `promise ${ballot} accepted [${message.accepted.map((a) => `${a.position}@${a.ballot.round}:${a.ballot.id}`).join(' ')}] commit ${message.commit}`
    case 'accept': {
      const positions = message.entries.map((entry) => entry.position)
      const chosen = message.chosen.length > 0 ? ` chosen ${message.chosen[0]?.position}..${message.chosen.at(-1)?.position}` : ''
      return `accept ${ballot} [${positions.join(' ')}] commit ${message.commit}${chosen}`
    }
    case 'accepted':
      return `accepted ${ballot} [${message.ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}..${r.to}`)).join(' ')}] commit ${message.commit}`
    case 'reject':
      return `reject ${ballot} ${message.reason} promised ${message.promised.round}:${message.promised.id}`
    case 'forward':
      return `forward ${message.submissions.map((s) => `${s.from}/${s.seq}`).join(' ')}`
    case 'immigrate':
      return `immigrate ${message.id}`
    case 'naturalize':
      return `naturalize ${message.id}`
    case 'leave':
      return 'leave'
  }
}

/** Runs a transcript; returns the text with actual outputs in place of the expected ones. */
export function runTranscript(text: string, island = new TranscriptIsland()): string {
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('> ')) {
      out.push(line)
      out.push(...island.run(line.slice(2)))
    } else if (line.startsWith('#') || (line.trim() === '' && out.at(-1) !== '')) {
      if (line.startsWith('#') || out.length > 0) out.push(line)
    }
  }
  while (out.at(-1) === '') out.pop()
  return `${out.join('\n')}\n`
}
