// A pino-like logger for tests: it keeps every line it is given, in order,
// so that a test reads what the library logged, at which level and with
// which fields. A child logs to the same list, its bindings merged in.

import type { PinoLikeLogger } from '../../src/index.js'

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error'

export interface Line {
  readonly level: Level
  readonly message: string
  readonly fields: Record<string, unknown>
}

/** Keeps every line in `lines`, each tagged with the bindings of the child it went through. */
export function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): PinoLikeLogger {
  const at = (level: Level) => (fields: Record<string, unknown>, message = '') =>
    void lines.push({ level, message, fields: { ...bindings, ...fields } })
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  }
}

/** The lines logged at `level`. */
export function linesAt(lines: readonly Line[], level: Level): Line[] {
  return lines.filter((line) => line.level === level)
}
