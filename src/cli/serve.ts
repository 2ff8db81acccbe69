// `paxos-colleague serve`: one member of a replicated key-value island.

import { constants, open as openDescriptor } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { Socket } from 'node:net'
import { promisify } from 'node:util'
import { pino, type Logger } from 'pino'
import { Colleague, isColleagueError, type ColleagueErrorCode } from '../index.js'
import { StartError, type ServeOptions } from './args.js'
import { createKvServer } from './kv-server.js'
import { KvStore } from './kv-store.js'

/** Bound on a clean shutdown; past it the process exits 1 anyway. */
export const SHUTDOWN_TIMEOUT_MS = 5_000
const SECRET_BYTES_MAX = 4096
/** The most --secret-file may hold: the longest secret and a line end (`\r\n`) after it. */
const SECRET_FILE_BYTES_MAX = SECRET_BYTES_MAX + 2

export interface ServeIo {
  readonly stdout: NodeJS.WritableStream
  /** Resolves with the signal that asks this member to stop. */
  readonly stopped: Promise<string>
  /** The V8 flags set for this process before the library loaded (see tiering.ts), for the log. */
  readonly v8Flags?: readonly string[]
}

/** Runs a member until stopped or crashed; resolves with the exit status. */
export async function serve(options: ServeOptions, io: ServeIo): Promise<number> {
  const secret = options.secretFile === null ? null : await readSecret(options.secretFile, io.stopped)
  const logger = pino(
    { level: options.logLevel, base: { pid: process.pid, island: options.island } },
    pino.destination({ fd: 2, sync: true }),
  )
  const store = new KvStore()
  let colleague: Colleague | null = null
  // Until the colleague founded or joined its island (or resumed it), the store is not the island's.
  let available = false
  const kvServer = createKvServer({
    store,
    available: () => available,
    enqueue: async (operation) => {
      if (colleague === null) throw Object.assign(new Error('not started'), { code: 'KV_UNAVAILABLE' })
      return colleague.enqueue(operation)
    },
    barrier: async () => {
      if (colleague === null) throw Object.assign(new Error('not started'), { code: 'KV_UNAVAILABLE' })
      return colleague.barrier()
    },
  })
  const address = await kvServer.listen(options.host, options.port).catch((error: unknown) => {
    throw new StartError(`cannot listen on ${options.host}:${options.port}: ${reasonOf(error)}`)
  })
  const location = options.location ?? address.url
  if (options.location === null && (options.host === '0.0.0.0' || options.host === '::')) {
    logger.warn({ location }, 'bound to every interface but advertising loopback: pass --location so peers elsewhere can reach this member')
  }
  try {
    colleague = createColleague(options, { location, logger, secret, store })
  } catch (error) {
    // A storage directory that is corrupt, unusable or another member's, or options the colleague refuses: one line.
    await kvServer.close(SHUTDOWN_TIMEOUT_MS / 2)
    const where = isStorageError(error) ? ` on --data-dir ${options.dataDir ?? ''}` : ''
    throw new StartError(`could not start${where}: ${reasonOf(error)}`)
  }
  kvServer.mountColleague(colleague.handler)
  if (colleague.recovered) {
    logger.info({ dataDir: options.dataDir, colleagueId: colleague.colleagueId }, '--data-dir holds this member: resuming it, --bootstrap/--join ignored')
  } else if (options.dataDir !== null && options.port === 0 && options.location === null) {
    logger.warn({ location }, '--data-dir with port 0: a restart listens elsewhere and peers will not reach it; bind a fixed port')
  }

  const crashed = new Promise<unknown>((resolve) => colleague?.on('crash', resolve))

  const stopped = Promise.race([io.stopped, shutDownByRequest(colleague)])
  const started = options.bootstrap ? colleague.bootstrap() : colleague.join(options.join ?? [])
  const first = await Promise.race([
    started.then(() => ({ kind: 'started' }) as const),
    crashed.then((error) => ({ kind: 'crashed', error }) as const),
    stopped.then((signal) => ({ kind: 'stopped', signal }) as const),
  ]).catch((error: unknown) => ({ kind: 'failed', error }) as const)
  if (first.kind === 'failed' && colleague.health().state !== 'crashed') {
    // Nothing was admitted: say why in one line (main prints it) rather than a logged stack,
    // and nothing else at info (the colleague's own 'shutting down' line would come first).
    logger.level = 'error'
    await stop(colleague, kvServer.close, logger)
    const how = colleague.recovered
      ? `could not resume --data-dir ${options.dataDir ?? ''}`
      : options.bootstrap
        ? 'could not bootstrap'
        : `could not join through ${(options.join ?? []).join(', ')}`
    throw new StartError(`${how}: ${reasonOf(first.error)}`)
  }
  if (first.kind === 'crashed' || first.kind === 'failed') {
    logger.fatal({ err: first.error }, 'colleague crashed')
    await stop(colleague, kvServer.close, logger)
    return 1
  }
  if (first.kind === 'started') {
    available = true
    io.stdout.write(`listening ${address.url}\n`)
    logger.info({ url: address.url, location, bootstrap: options.bootstrap, v8Flags: io.v8Flags ?? [] }, 'serving')
  }
  const last =
    first.kind === 'stopped'
      ? first
      : await Promise.race([
          crashed.then((error) => ({ kind: 'crashed', error }) as const),
          stopped.then((signal) => ({ kind: 'stopped', signal }) as const),
        ])
  if (last.kind === 'crashed') {
    // A supervisor restarts us as a newcomer: a crashed colleague never comes back as itself.
    logger.fatal({ err: last.error }, 'colleague crashed')
    await stop(colleague, kvServer.close, logger)
    return 1
  }
  logger.info({ signal: last.signal }, 'shutting down')
  return (await stop(colleague, kvServer.close, logger)) ? 0 : 1
}

function createColleague(
  options: ServeOptions,
  parts: { location: string; logger: Logger; secret: string | null; store: KvStore },
): Colleague {
  const { location, logger, secret, store } = parts
  return new Colleague({
    islandName: options.island,
    location,
    logger,
    ...(options.id !== null && { colleagueId: options.id }),
    ...(options.pingMs !== null && { pingMs: options.pingMs }),
    ...(options.timeoutMs !== null && { timeoutMs: options.timeoutMs }),
    ...(options.minorityPaceMs !== null && { minorityPaceMs: options.minorityPaceMs }),
    ...(options.parliamentSize !== null && { parliamentSize: options.parliamentSize }),
    ...(secret !== null && { secret }),
    ...(options.dataDir !== null && {
      storage: {
        directory: options.dataDir,
        ...(options.snapshotEvery !== null && { snapshotEveryEntries: options.snapshotEvery }),
      },
    }),
    application: {
      entry: (entry) => store.entry(entry),
      snapshot: () => store.snapshot(),
      restore: (state) => store.restore(state),
    },
  })
}

const STORAGE_CODES: ReadonlySet<ColleagueErrorCode> = new Set(['STORAGE_CORRUPT', 'STORAGE_FAILED', 'STORAGE_MISMATCH'])

/** Only these are about --data-dir; any other refusal by the constructor is not. */
function isStorageError(error: unknown): boolean {
  return isColleagueError(error) && STORAGE_CODES.has(error.code)
}

/** POST /shutdown stops the colleague, not this process: notice it, and exit like on SIGTERM. */
function shutDownByRequest(colleague: Colleague): Promise<string> {
  return new Promise((resolve) => colleague.once('shutdown', () => resolve('POST /shutdown')))
}

async function stop(
  colleague: Colleague,
  closeServer: (timeoutMs: number) => Promise<void>,
  logger: Logger,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), SHUTDOWN_TIMEOUT_MS)
  })
  const clean = (async () => {
    try {
      await colleague.shutdown()
    } catch (error) {
      // A crashed colleague is already stopped; its shutdown may refuse.
      logger.debug({ err: error }, 'shutdown of the colleague failed')
    }
    await closeServer(SHUTDOWN_TIMEOUT_MS / 2)
    return true as const
  })()
  try {
    const result = await Promise.race([clean, deadline])
    if (!result) logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out')
    return result
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The trimmed secret in `path`. It stops reading one byte past what the file
 * may hold, so that /dev/zero or a huge file is refused as too long at once.
 * A stop signal ends the wait: main.ts catches SIGTERM and SIGINT, so a FIFO
 * nobody writes to would otherwise hold the process for good.
 */
async function readSecret(path: string, stopped: Promise<string>): Promise<string> {
  const abort = new AbortController()
  let bytes: Buffer
  try {
    bytes = await Promise.race([
      readAtMost(path, SECRET_FILE_BYTES_MAX + 1, abort.signal).catch((error: unknown) => {
        throw new StartError(`cannot read --secret-file ${JSON.stringify(path)}: ${reasonOf(error)}`)
      }),
      stopped.then((signal) => {
        throw new StartError(`stopped before it started (${signal})`)
      }),
    ])
  } finally {
    abort.abort()
  }
  const secret = bytes.toString('utf8').trim()
  if (bytes.length > SECRET_FILE_BYTES_MAX || secret.length === 0 || secret.length > SECRET_BYTES_MAX) {
    throw new StartError(`--secret-file ${JSON.stringify(path)} must hold 1 to ${SECRET_BYTES_MAX} characters`)
  }
  return secret
}

/**
 * Up to `limit` bytes of the file at `path`, opened without blocking. A FIFO
 * (`<(echo secret)`, or one nobody has opened for writing yet) is read in the
 * event loop, where `signal` ends the wait; in a libuv thread, as readFile
 * reads, an open or read that never returns also keeps the process from
 * exiting. A terminal is not waited on either: it reads as empty or fails.
 */
async function readAtMost(path: string, limit: number, signal: AbortSignal): Promise<Buffer> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK
  const stats = await stat(path)
  if (stats.isFIFO() || stats.isSocket()) {
    const fd = await promisify(openDescriptor)(path, flags)
    // The socket owns the descriptor and closes it.
    return readStream(new Socket({ fd, readable: true, writable: false }), limit, signal)
  }
  const handle = await open(path, flags)
  try {
    const buffer = Buffer.alloc(limit)
    let length = 0
    while (length < limit && !signal.aborted) {
      const { bytesRead } = await handle.read(buffer, length, limit - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return buffer.subarray(0, length)
  } finally {
    await handle.close()
  }
}

/** Up to `limit` bytes from `socket` until its end; destroys it once it has them, or when `signal` aborts. */
function readStream(socket: Socket, limit: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const finish = (error?: unknown): void => {
      signal.removeEventListener('abort', aborted)
      socket.destroy()
      if (error === undefined) resolve(Buffer.concat(chunks).subarray(0, limit))
      else reject(error)
    }
    const aborted = (): void => finish(signal.reason)
    signal.addEventListener('abort', aborted, { once: true })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      length += chunk.length
      if (length >= limit) finish()
    })
    socket.once('end', () => finish())
    socket.once('error', finish)
  })
}

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the address is not available on this machine',
  EACCES: 'permission denied',
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
}

/** One line: an error's code and message, and its causes', without stacks. */
export function reasonOf(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (!(current instanceof Error)) {
      const text = (typeof current === 'string' ? current : JSON.stringify(current)).replace(/\s+/g, ' ').trim()
      parts.push(text.length > 120 ? `${text.slice(0, 120)}...` : text)
      break
    }
    const code = (current as { code?: unknown }).code
    const known = typeof code === 'string' ? REASONS[code] : undefined
    const message = known ?? current.message.split('\n')[0] ?? ''
    // A cause that only repeats the error around it adds nothing.
    if (parts.at(-1)?.startsWith(message) !== true) parts.push(typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message)
    if (known !== undefined) break
    current = (current as { cause?: unknown }).cause
  }
  return parts.filter((part) => part.length > 0).join(': ')
}
