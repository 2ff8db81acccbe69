// GET /status (the page) and GET /status/events (Server-Sent Events) among the
// colleague's routes. Read-only: nothing here changes the colleague, and what
// it shows is what GET /health already shows, so it needs no secret. Every
// open stream shares the one gatherer, which runs only while a stream is open;
// the number of streams and each one's unsent backlog are bounded.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Agent } from 'undici'
import type { Clock } from '../../kibitzer/clock.js'
import type { Government } from '../../paxos/types.js'
import { ColleagueError } from '../errors.js'
import { answerText } from '../peer-client.js'
import { undici } from '../undici.js'
import type { Health } from '../health.js'
import { StatusGatherer, type FetchHealth } from './gatherer.js'
import { STATUS_PAGE_HTML } from './status-page.js'
import type { StatusView } from './status-view.js'
import { Timeline } from './timeline.js'

export const STATUS_PATH = '/status'
export const STATUS_EVENTS_PATH = '/status/events'
/** Open event streams one colleague serves at once; more get 503 TOO_MANY_STREAMS. */
export const STATUS_STREAMS_MAX = 128
/** A stream whose client lets this much go unread is closed (EventSource reconnects). */
export const STREAM_BUFFER_BYTES_MAX = 256 * 1024
/** Largest peer health answer read. */
export const PEER_HEALTH_BYTES_MAX = 1024 * 1024

export interface StatusRoutesOptions {
  colleagueId: string
  health(): Health
  clock: Clock
  pingMs: number
  timeoutMs: number
  streamsMax?: number
  /** How peers' health is fetched; default GET over HTTP with undici. */
  fetchHealth?: FetchHealth
}

export class StatusRoutes {
  private readonly streams = new Set<ServerResponse>()
  private readonly streamsMax: number
  private readonly timeline: Timeline
  private readonly gatherer: StatusGatherer
  private readonly pingMs: number
  /** Created on the first peer request, so that a colleague nobody watches holds no connections for it. */
  private agent: Agent | null = null
  private readonly clock: Clock
  private closed = false

  constructor(options: StatusRoutesOptions) {
    this.streamsMax = options.streamsMax ?? STATUS_STREAMS_MAX
    this.pingMs = options.pingMs
    this.timeline = new Timeline(options.colleagueId)
    this.gatherer = new StatusGatherer({
      health: options.health,
      clock: options.clock,
      pingMs: options.pingMs,
      timeoutMs: options.timeoutMs,
      timeline: this.timeline,
      fetchHealth: options.fetchHealth ?? ((location, timeoutMs) => fetchHealth(this.peerAgent(), location, timeoutMs)),
      publish: (view) => this.broadcast(view),
    })
    this.clock = options.clock
  }

  /** Records a government this colleague applied (for the timeline) and shows it at once. */
  observe(government: Government): void {
    this.timeline.observe(government, this.clock.now())
    this.gatherer.nudge()
  }

  /** Open event streams. */
  get streamCount(): number {
    return this.streams.size
  }

  get gathering(): boolean {
    return this.gatherer.running
  }

  /** Serves the request if it is one of the status routes; false otherwise. */
  handle(pathname: string, request: IncomingMessage, response: ServerResponse): boolean {
    if (pathname !== STATUS_PATH && pathname !== `${STATUS_PATH}/` && pathname !== STATUS_EVENTS_PATH) return false
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD')
      sendError(response, new ColleagueError('METHOD_NOT_ALLOWED', `${pathname} takes GET`))
      return true
    }
    if (pathname === STATUS_EVENTS_PATH) this.openStream(request, response)
    else sendPage(request, response)
    return true
  }

  /** Ends every stream and stops gathering; later streams are refused. */
  async close(): Promise<void> {
    this.closed = true
    this.gatherer.stop()
    for (const stream of this.streams) stream.end()
    this.streams.clear()
    const agent = this.agent
    this.agent = null
    await agent?.destroy().catch(() => {})
  }

  private peerAgent(): Agent {
    if (this.closed) throw new Error('status routes closed')
    this.agent ??= new (undici().Agent)({ connections: 1, keepAliveTimeout: 10_000 })
    return this.agent
  }

  private openStream(request: IncomingMessage, response: ServerResponse): void {
    if (this.closed) return sendError(response, new ColleagueError('SHUT_DOWN', 'the colleague was shut down'))
    if (this.streams.size >= this.streamsMax) {
      response.setHeader('retry-after', '5')
      return sendError(response, new ColleagueError('TOO_MANY_STREAMS', `${this.streamsMax} status streams are open already`))
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Read-only and no more than /health shows: the page follows the island to
      // another member's stream when the one it came from is gone.
      'access-control-allow-origin': '*',
      'x-content-type-options': 'nosniff',
    })
    if (request.method === 'HEAD') {
      response.end()
      return
    }
    response.socket?.setNoDelay(true)
    this.streams.add(response)
    response.on('close', () => this.dropStream(response))
    // EventSource waits this long before reconnecting after the stream ends.
    response.write(`retry: ${Math.max(500, this.pingMs * 2)}\n\n`)
    response.write(serialize(this.gatherer.view()))
    this.gatherer.start()
  }

  private dropStream(response: ServerResponse): void {
    this.streams.delete(response)
    if (this.streams.size === 0) this.gatherer.stop()
  }

  private broadcast(view: StatusView): void {
    if (this.streams.size === 0) return
    const text = serialize(view)
    for (const stream of this.streams) {
      if (stream.writableLength > STREAM_BUFFER_BYTES_MAX) {
        stream.destroy()
        continue
      }
      stream.write(text)
    }
  }
}

function serialize(view: StatusView): string {
  return `data: ${JSON.stringify(view)}\n\n`
}

function sendPage(request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(STATUS_PAGE_HTML),
    'cache-control': 'no-store',
    // The page's own script is inline, and it evaluates nothing: no 'unsafe-eval'.
    'content-security-policy':
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src http: https:; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  })
  response.end(request.method === 'HEAD' ? undefined : STATUS_PAGE_HTML)
}

function sendError(response: ServerResponse, error: ColleagueError): void {
  const text = JSON.stringify(error.toBody())
  response.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

async function fetchHealth(agent: Agent, location: string, timeoutMs: number): Promise<unknown> {
  const url = `${location.replace(/\/+$/, '')}/health`
  const response = await undici().request(url, {
    dispatcher: agent,
    method: 'GET',
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > PEER_HEALTH_BYTES_MAX) {
      response.body.destroy()
      throw new Error(`health answer larger than ${PEER_HEALTH_BYTES_MAX} bytes`)
    }
    chunks.push(chunk)
  }
  if (response.statusCode !== 200) throw new Error(`health answered ${response.statusCode}`)
  return JSON.parse(answerText(Buffer.concat(chunks), location)) as unknown
}
