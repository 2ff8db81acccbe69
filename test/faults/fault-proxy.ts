// A fault proxy in front of one member: peers reach the member through it
// (the member's --location points here), and every request is passed,
// delayed, held unanswered (blackhole) or cut (reset) according to the
// directed link it travels on. The sender is read from the body (`from` on
// /kibitz and /oob, `id` on /join), so one listening port per member is
// enough to cut links one way: a request is a message from its sender, and
// the answer carries nothing but an HTTP status.

import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type LinkFault = 'pass' | 'blackhole' | 'reset' | { readonly delayMs: number }

/** Decides what happens to one request from `from` to this proxy's member on `route`. */
export type FaultRule = (from: string, route: string) => LinkFault

const BODY_BYTES_MAX = 16 * 1024 * 1024
const FORWARD_TIMEOUT_MS = 15_000
/** A held request is cut at the latest after this, so no socket outlives a scenario by much. */
const HOLD_MS_MAX = 60_000

export interface ProxyStats {
  passed: number
  delayed: number
  held: number
  reset: number
  failed: number
}

export class FaultProxy {
  readonly name: string
  readonly stats: ProxyStats = { passed: 0, delayed: 0, held: 0, reset: 0, failed: 0 }
  #server: Server
  #target: URL | null = null
  #rule: FaultRule = () => 'pass'
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 })
  readonly #held = new Set<ServerResponse>()
  readonly #sockets = new Set<Socket>()
  #url: string | null = null
  #tap: ((route: string, body: Buffer, headers: IncomingMessage['headers']) => void) | null = null

  constructor(name: string) {
    this.name = name
    this.#server = createServer((request, response) => this.#receive(request, response))
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
  }

  get url(): string {
    if (this.#url === null) throw new Error(`proxy ${this.name} is not listening`)
    return this.#url
  }

  async listen(host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(0, host, () => resolve())
    })
    const { port } = this.#server.address() as AddressInfo
    this.#url = `http://${host}:${port}`
    return this.#url
  }

  /** Where the member really listens; until set, requests get 503. */
  target(url: string): void {
    this.#target = new URL(url)
  }

  rule(rule: FaultRule): void {
    this.#rule = rule
  }

  /** Sees every request body that reaches this proxy (the fuzzer keeps some to replay). */
  tap(listener: ((route: string, body: Buffer, headers: IncomingMessage['headers']) => void) | null): void {
    this.#tap = listener
  }

  /** Cuts every request held by a blackhole (their senders see a reset). */
  releaseHeld(): void {
    for (const response of this.#held) response.socket?.destroy()
    this.#held.clear()
  }

  /** Cuts every open connection through this proxy: fresh connections start after a partition heals. */
  resetConnections(): void {
    for (const socket of this.#sockets) socket.destroy()
  }

  async close(): Promise<void> {
    this.releaseHeld()
    this.resetConnections()
    this.#agent.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #receive(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > BODY_BYTES_MAX) {
        request.socket.destroy()
        return
      }
      chunks.push(chunk)
    })
    request.on('error', () => undefined)
    request.on('end', () => {
      const body = Buffer.concat(chunks)
      const route = (request.url ?? '/').split('?', 1)[0] ?? '/'
      this.#tap?.(route, body, request.headers)
      const fault = this.#rule(senderOf(body), route)
      this.#apply(fault, request, response, body)
    })
  }

  #apply(fault: LinkFault, request: IncomingMessage, response: ServerResponse, body: Buffer): void {
    if (fault === 'reset') {
      this.stats.reset++
      request.socket.destroy()
      return
    }
    if (fault === 'blackhole') {
      this.stats.held++
      this.#held.add(response)
      const timer = setTimeout(() => response.socket?.destroy(), HOLD_MS_MAX)
      response.once('close', () => {
        clearTimeout(timer)
        this.#held.delete(response)
      })
      return
    }
    if (fault === 'pass') {
      this.stats.passed++
      this.#forward(request, response, body)
      return
    }
    this.stats.delayed++
    const timer = setTimeout(() => this.#forward(request, response, body), fault.delayMs)
    response.once('close', () => clearTimeout(timer))
  }

  #forward(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
    const target = this.#target
    if (target === null || response.destroyed) {
      if (!response.destroyed) response.writeHead(503).end()
      return
    }
    const headers = { ...request.headers, host: target.host, 'content-length': String(body.length) }
    delete headers['transfer-encoding']
    const outbound = httpRequest(
      {
        agent: this.#agent,
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers,
        timeout: FORWARD_TIMEOUT_MS,
      },
      (answer) => {
        if (response.destroyed) {
          answer.resume()
          return
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      },
    )
    outbound.on('timeout', () => outbound.destroy(new Error('proxy forward timed out')))
    outbound.on('error', () => {
      // The member is gone (killed) or stuck: its peers see the connection cut, as they would without us.
      this.stats.failed++
      response.socket?.destroy()
    })
    outbound.end(body)
  }
}

/** The sending colleague named in a peer body, or '' when the body names none. */
export function senderOf(body: Buffer): string {
  if (body.length === 0 || body[0] !== 0x7b) return ''
  // Only the head is needed: every peer body starts with the fields that name its sender.
  const head = body.subarray(0, 2048).toString('utf8')
  const match = /"(?:from|id)":"((?:[^"\\]|\\.){1,256})"/.exec(head)
  return match?.[1] ?? ''
}
