// Shared-secret request signing between the members of one island.
//
// The signature is HMAC-SHA256 over the timestamp, the method, the route and
// the raw body, so a signed body cannot be replayed to another route. A
// second one, the head signature, covers the same but the body's length in
// place of the body: it is checked before the body is read, so that a body
// nobody with the secret sent is refused before any of its bytes is held
// (else a few unfinished bodies from anyone who reaches the port could fill
// the server's body budget and crowd the members' own requests out). A
// request is accepted only inside a short window around its timestamp, and an
// exact signature seen inside that window is refused (a bounded cache; when it
// overflows, the oldest signatures are forgotten first).

import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-paxos-signature'
export const HEAD_SIGNATURE_HEADER = 'x-paxos-head-signature'
export const TIMESTAMP_HEADER = 'x-paxos-timestamp'

export const SIGNATURE_WINDOW_MS = 30_000
export const SEEN_SIGNATURES_MAX = 16_384

export type SignatureHeaders = Record<typeof SIGNATURE_HEADER | typeof HEAD_SIGNATURE_HEADER | typeof TIMESTAMP_HEADER, string>

export interface SignerOptions {
  now(): number
  windowMs?: number
  seenMax?: number
}

export class Signer {
  private readonly secret: string
  private readonly now: () => number
  private readonly windowMs: number
  private readonly seenMax: number
  /** Signature (hex) to the time it leaves the window. Insertion order is roughly time order. */
  private readonly seen = new Map<string, number>()

  constructor(secret: string, options: SignerOptions) {
    if (secret.length === 0) throw new RangeError('secret must not be empty')
    this.secret = secret
    this.now = options.now
    this.windowMs = options.windowMs ?? SIGNATURE_WINDOW_MS
    this.seenMax = options.seenMax ?? SEEN_SIGNATURES_MAX
  }

  sign(method: string, route: string, body: string): SignatureHeaders {
    const timestamp = String(this.now())
    return {
      [TIMESTAMP_HEADER]: timestamp,
      [HEAD_SIGNATURE_HEADER]: this.headDigest(timestamp, method, route, Buffer.byteLength(body)).toString('hex'),
      [SIGNATURE_HEADER]: this.digest(timestamp, method, route, body).toString('hex'),
    }
  }

  /**
   * True when a request's head is signed with the secret for a body of
   * `contentLength` bytes (the header as sent; none is refused), fresh, and
   * not a replay. Records it as seen. Checked before the body is read; the
   * body's own signature is checked once it is whole (`verify`).
   */
  verifyHead(method: string, route: string, timestamp: unknown, signature: unknown, contentLength: unknown): boolean {
    if (typeof contentLength !== 'string' || !/^\d{1,16}$/.test(contentLength)) return false
    return this.accepts(timestamp, signature, (at) => this.headDigest(at, method, route, Number(contentLength)))
  }

  /** True when the request is signed with the secret, fresh, and not a replay. Records it as seen. */
  verify(method: string, route: string, body: string, timestamp: unknown, signature: unknown): boolean {
    return this.accepts(timestamp, signature, (at) => this.digest(at, method, route, body))
  }

  /** Whether `signature` is well formed, `timestamp` inside the window, the signature `expected`'s, and not seen before; records it. */
  private accepts(timestamp: unknown, signature: unknown, expected: (timestamp: string) => Buffer): boolean {
    if (typeof timestamp !== 'string' || typeof signature !== 'string') return false
    if (!/^\d{1,16}$/.test(timestamp) || !/^[0-9a-f]{64}$/.test(signature)) return false
    const now = this.now()
    const at = Number(timestamp)
    if (Math.abs(now - at) > this.windowMs) return false
    if (!timingSafeEqual(expected(timestamp), Buffer.from(signature, 'hex'))) return false
    return this.firstSeen(signature, at, now)
  }

  /** Whether `signature` (made at `at`) is new inside the window; records it. */
  private firstSeen(signature: string, at: number, now: number): boolean {
    this.forgetExpired(now)
    if (this.seen.has(signature)) return false
    this.seen.set(signature, at + this.windowMs)
    return true
  }

  private digest(timestamp: string, method: string, route: string, body: string): Buffer {
    return createHmac('sha256', this.secret).update(`${timestamp}\n${method}\n${route}\n`).update(body).digest()
  }

  /** Starts with a word, where the body's input starts with the timestamp's digits: no input of one is an input of the other. */
  private headDigest(timestamp: string, method: string, route: string, bytes: number): Buffer {
    return createHmac('sha256', this.secret).update(`head\n${timestamp}\n${method}\n${route}\n${bytes}`).digest()
  }

  private forgetExpired(now: number): void {
    for (const [signature, expiresAt] of this.seen) {
      if (expiresAt >= now && this.seen.size < this.seenMax) break
      this.seen.delete(signature)
    }
  }
}
