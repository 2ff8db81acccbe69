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
