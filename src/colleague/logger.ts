// A logger shape that pino satisfies, so the library never depends on a
// logging implementation: the application injects one, or gets silence.

export type LogFn = (object: Record<string, unknown>, message?: string) => void

export interface PinoLikeLogger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child?(bindings: Record<string, unknown>): PinoLikeLogger
}

const ignore: LogFn = () => {}

export const silentLogger: PinoLikeLogger = {
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
}

/** The logger with `bindings` attached when it can carry them. */
export function bindLogger(logger: PinoLikeLogger, bindings: Record<string, unknown>): PinoLikeLogger {
  return logger.child ? logger.child(bindings) : logger
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const

/**
 * An application's logger that never throws into the colleague: its calls
 * come from inside the code that applies entries, answers peers and ticks,
 * where a throw would crash the member (and read as the application's
 * fault). A call that throws is dropped; so is a child that cannot be made.
 */
export function sheltered(logger: PinoLikeLogger): PinoLikeLogger {
  if (logger === silentLogger) return logger
  // Looked up at each call: pino swaps a level's method when its level changes.
  const shelter = (level: (typeof LEVELS)[number]): LogFn => {
    return (object, message) => {
      try {
        // An async logger's rejection would end the process as an unhandled one.
        const returned: unknown = logger[level](object, message)
        if (typeof (returned as PromiseLike<unknown> | null)?.then === 'function') (returned as PromiseLike<unknown>).then(undefined, () => {})
      } catch {
        // A logger that fails loses its line, not the member.
      }
    }
  }
  const safe = Object.fromEntries(LEVELS.map((level) => [level, shelter(level)])) as unknown as PinoLikeLogger
  const child = logger.child
  if (child !== undefined) {
    safe.child = (bindings) => {
      try {
        return sheltered(child.call(logger, bindings))
      } catch {
        return safe
      }
    }
  }
  return safe
}
