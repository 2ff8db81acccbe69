// The kibitzer's transport over HTTP: a batch of messages becomes one
// POST /kibitz to the peer's `location`. A batch too large for one body is
// split; a single message too large for any body is dropped (and reported),
// since no peer would accept it. A peer may answer a POST with a kibitz body
// of its own (its acceptor's replies, see `Kibitzer.exchange`): that body is
// checked like any inbound one and its messages are handed back.

import type { Transport } from '../kibitzer/transport.js'
import type { Accepted, Message } from '../paxos/types.js'
import { ColleagueError } from './errors.js'
import type { PeerTransport } from './peer-client.js'
import { validators, type KibitzBody } from './schemas.js'

export interface HttpTransportOptions {
  client: PeerTransport
  islandName: string
  from: string
  /** The island id to stamp on bodies; null before this colleague knows it. */
  islandId(): string | null
  /** The URL a peer listens on, from the governments this colleague has seen. */
  locate(id: string): string | null
  bodyBytesMax: number
  timeoutMs: number
  onOversized?(to: string, bytes: number): void
  /** Checks and notes an answer that passed the transport's own checks; a throw refuses it. */
  onAnswer?(body: KibitzBody): void
  /** A peer answered with a body that failed the checks; its messages are dropped. */
  onInvalidAnswer?(to: string, reason: string): void
}

/** Peers whose body opening is kept at once; past it the cache starts over. */
const HEADS_MAX = 64

export class HttpTransport implements Transport {
  private readonly options: HttpTransportOptions
  /**
   * A round's accept goes to every peer with the same `entries` array (the
   * legislator builds it once per round): its JSON is made once and reused.
   * Keyed by identity, so it lives as long as the messages that hold it.
   */
  private readonly entriesJson = new WeakMap<readonly Accepted[], string>()
  private readonly heads = new Map<string, { readonly islandId: string; readonly text: string }>()

  constructor(options: HttpTransportOptions) {
    this.options = options
  }

  async send(to: string, messages: readonly Message[]): Promise<readonly Message[]> {
    const { client, timeoutMs } = this.options
    const location = this.options.locate(to)
    if (location === null) throw new ColleagueError('PEER_UNREACHABLE', `no location known for ${to}`)
    const islandId = this.options.islandId()
    if (islandId === null) throw new ColleagueError('NOT_JOINED', 'no island id yet')
    const head = this.head(to, islandId)
    let answered: readonly Message[] = []
    for (const body of this.pack(to, head, messages)) {
      const answer = await client.post(location, '/kibitz', body, timeoutMs, false)
      if (answer.status < 200 || answer.status > 299) throw new PeerRefusal(to, answer.status, answer.text)
      if (answer.status === 200 && answer.text.length > 0) {
        const more = this.answerFrom(to, answer.text, islandId)
        answered = answered.length === 0 ? more : answered.concat(more)
      }
    }
    return answered
  }

  /** A body's opening up to its messages, kept per peer: it changes only with the island id. */
  private head(to: string, islandId: string): string {
    const kept = this.heads.get(to)
    if (kept !== undefined && kept.islandId === islandId) return kept.text
    const { islandName, from } = this.options
    const text = `{"islandName":${JSON.stringify(islandName)},"islandId":${JSON.stringify(islandId)},"from":${JSON.stringify(from)},"to":${JSON.stringify(to)},"messages":[`
    // Peers come and go with governments: the map is bounded by starting over.
    if (this.heads.size >= HEADS_MAX) this.heads.clear()
    this.heads.set(to, { islandId, text })
    return text
  }

  /** The messages of `to`'s answer, checked as strictly as a body it POSTed: none if any check fails. */
  private answerFrom(to: string, text: string, islandId: string): readonly Message[] {
    const invalid = (reason: string): readonly Message[] => {
      this.options.onInvalidAnswer?.(to, reason)
      return []
    }
    if (text.length > this.options.bodyBytesMax && Buffer.byteLength(text) > this.options.bodyBytesMax) {
      return invalid(`${Buffer.byteLength(text)} bytes, over bodyBytesMax`)
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return invalid('not JSON')
    }
    if (!validators.kibitz.Check(body)) return invalid('not a kibitz body')
    if (body.islandName !== this.options.islandName || body.islandId !== islandId) return invalid('another island')
    if (body.from !== to || body.to !== this.options.from) return invalid('misaddressed')
    try {
      this.options.onAnswer?.(body)
    } catch (error) {
      return invalid(error instanceof Error ? error.message : String(error))
    }
    return body.messages
  }

  /** Bodies of at most `bodyBytesMax` bytes holding `messages` in order (most often one). */
  private pack(to: string, head: string, messages: readonly Message[]): string[] {
    const bodies: string[] = []
    const limit = this.options.bodyBytesMax
    const overhead = Buffer.byteLength(head) + 2
    let parts: string[] = []
    let bytes = overhead
    for (const message of messages) {
      const part = this.stringify(message)
      // Three bytes per UTF-16 unit bound the UTF-8 size; count exactly only near the limit.
      let size = part.length * 3 + 1
      if (overhead + size > limit) size = Buffer.byteLength(part) + 1
      if (overhead + size > limit) {
        this.options.onOversized?.(to, overhead + size)
        continue
      }
      if (bytes + size > limit && parts.length > 0) {
        bodies.push(`${head}${parts.join(',')}]}`)
        parts = []
        bytes = overhead
      }
      parts.push(part)
      bytes += size
    }
    if (parts.length > 0) bodies.push(`${head}${parts.join(',')}]}`)
    return bodies
  }

  /** `JSON.stringify(message)`, with an accept's entries taken from the per-round cache. */
  private stringify(message: Message): string {
    if (message.type !== 'accept' || message.entries.length === 0) return JSON.stringify(message)
    let entries = this.entriesJson.get(message.entries)
    if (entries === undefined) {
      entries = JSON.stringify(message.entries)
      this.entriesJson.set(message.entries, entries)
    }
    const { ballot, chosen, commit, trim } = message
    return `{"type":"accept","ballot":${JSON.stringify(ballot)},"entries":${entries},"chosen":${JSON.stringify(chosen)},"commit":${JSON.stringify(commit)},"trim":${JSON.stringify(trim)}}`
  }
}

/**
 * A peer answered a batch with an error status: it took none of it. A peer
 * that keeps refusing cannot follow the log, so this is worth a warning,
 * unlike a lost connection.
 */
export class PeerRefusal extends ColleagueError {
  readonly to: string
  readonly peerStatus: number
  /** The peer's error code, when its body carried one. */
  readonly peerCode: string | null

  constructor(to: string, status: number, text: string) {
    const peerCode = errorCodeOf(text)
    super('PEER_UNREACHABLE', `POST /kibitz to ${to} answered ${status}: ${text.slice(0, 200)}`)
    this.to = to
    this.peerStatus = status
    this.peerCode = peerCode
  }
}

function errorCodeOf(text: string): string | null {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } } | null)?.error?.code
    return typeof code === 'string' ? code : null
  } catch {
    return null
  }
}
