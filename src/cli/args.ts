// Command-line parsing for the paxos-colleague binary. Pure: no I/O, no
// process access, so every error path is testable without spawning.

import { parseArgs } from 'node:util'
import { DEFAULTS, isHttpLocation } from '../colleague/options.js'
import { LOCATION_LENGTH_MAX } from '../colleague/schemas.js'
import { MEMBERS_MAX, RESERVED_IDS } from '../paxos/government.js'
import { SNAPSHOT_EVERY_ENTRIES } from '../colleague/durability.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface ServeOptions {
  readonly island: string
  readonly host: string
  /** 0 lets the system choose a free port. */
  readonly port: number
  /** Exactly one of `bootstrap` and `join` is set. */
  readonly bootstrap: boolean
  /** The members `--join` names (one, or several separated by commas); null with `--bootstrap`. */
  readonly join: readonly string[] | null
  readonly id: string | null
  readonly location: string | null
  readonly pingMs: number | null
  readonly timeoutMs: number | null
  /** How often at most the leader sends to its minority (`minorityPaceMs`). */
  readonly minorityPaceMs: number | null
  readonly parliamentSize: number | null
  readonly secretFile: string | null
  /** Durable mode: the member's storage directory. */
  readonly dataDir: string | null
  readonly snapshotEvery: number | null
  readonly logLevel: LogLevel
}

export interface DemoOptions {
  readonly members: number
  readonly keys: number
  readonly deadlineMs: number
  readonly logLevel: LogLevel
  /** Keep the island up after the demo, for its status page, until interrupted. */
  readonly status: boolean
}

/** The command whose usage `--help` prints; `null` for the whole binary. */
export type HelpTopic = 'serve' | 'demo' | 'health' | null

export type Command =
  | { readonly command: 'help'; readonly topic: HelpTopic }
  | { readonly command: 'version' }
  | { readonly command: 'serve'; readonly options: ServeOptions }
  | { readonly command: 'demo'; readonly options: DemoOptions }
  | { readonly command: 'health'; readonly url: string; readonly timeoutMs: number }

/** A bad command line: the binary prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export const SERVE_USAGE = `usage: paxos-colleague serve --island NAME --bind HOST:PORT (--bootstrap | --join URL[,URL...])
      [--id ID] [--location URL] [--ping-ms N] [--timeout-ms N] [--minority-pace-ms N]
      [--parliament-size N] [--secret-file PATH] [--log-level LEVEL]
      [--data-dir DIR [--snapshot-every N]]

Runs one member of a replicated key-value island. Prints "listening URL" on
stdout once it is a member (bootstrapped, or joined and naturalized), and logs
JSON lines on stderr.

  --island NAME          the island's name, 1 to 64 characters of A-Z a-z 0-9 . _ -
  --bind HOST:PORT       where to listen (port 0 picks a free port)
  --bootstrap            found a new island and lead it
  --join URL[,URL...]    join the island through any living member (several: any
                         one that answers; the next is asked if one cannot be reached)
  --id ID                this member's colleagueId (default: a random UUID)
  --location URL         the URL peers use, when it differs from --bind
  --ping-ms N            leader heartbeat, 1 to 60000 (default 250)
  --timeout-ms N         silence before a peer is suspected, above --ping-ms (default 1000)
  --minority-pace-ms N   the leader sends to its minority at most once per N ms, 0 to
                         --ping-ms (default 10; 0: with every write)
  --parliament-size N    largest number of voting members, odd, 1 to 15 (default 5)
  --secret-file PATH     file holding the shared island secret
  --data-dir DIR         durable mode: keep a write-ahead log and snapshots in DIR; a
                         restart with the same command line resumes this member
                         (--bootstrap and --join are then ignored)
  --snapshot-every N     positions between snapshots, 1 to 1000000000, with --data-dir
                         (default ${SNAPSHOT_EVERY_ENTRIES})
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default info)
  -h, --help             print this help

exit status: 0 after SIGTERM, SIGINT or POST /shutdown; 1 when it cannot start
or crashes (restart it as a new member); 2 on bad arguments`

export const DEMO_USAGE = `usage: paxos-colleague demo [--members N] [--keys N] [--deadline-ms N] [--log-level LEVEL] [--status]

Starts an island of local serve processes on 127.0.0.1, writes keys through
every member, kills the leader, adds a newcomer, and checks that every member
holds every acknowledged key. Exits 0 only if every check held.

  --members N            members to start, 3 to 7 (default 3)
  --keys N               keys written before and after the failover (default 30)
  --deadline-ms N        bound on the whole run, 1000 to 600000 (default 60000)
  --log-level LEVEL      the members' log level on stderr (default warn)
  --status               afterwards keep the island up (until Ctrl-C) and print
                         the URL of its live status page
  -h, --help             print this help`

export const HEALTH_USAGE = `usage: paxos-colleague health URL [--timeout-ms N]

Prints the health of the member at URL: its island, state, government, the
role of every member (leader, parliament, constituent, exiled), log positions
and request counters. The member that answered is marked with *.

  --timeout-ms N         bound on the request (default 5000)
  -h, --help             print this help`

export const USAGE = `usage:
  paxos-colleague serve --island NAME --bind HOST:PORT (--bootstrap | --join URL[,URL...])
      [--id ID] [--location URL] [--ping-ms N] [--timeout-ms N] [--minority-pace-ms N]
      [--parliament-size N] [--secret-file PATH] [--log-level LEVEL]
      [--data-dir DIR [--snapshot-every N]]
  paxos-colleague demo [--members N] [--keys N] [--deadline-ms N] [--log-level LEVEL] [--status]
  paxos-colleague health URL [--timeout-ms N]
  paxos-colleague COMMAND --help
  paxos-colleague --help | --version

serve   run one member of a replicated key-value island; prints
        "listening URL" on stdout once it is a member, logs JSON lines on stderr;
        with --data-dir it writes a write-ahead log and snapshots there, and a
        restart with the same command line resumes as the same member
        (--bootstrap and --join are then ignored)
demo    start an island of N (default 3) local members, kill the leader, add a
        newcomer, and check that every member holds every key; with --status,
        keep the island up afterwards and print its status page's URL
health  print a member's health (government, leader, members, positions)

LEVEL is one of ${LOG_LEVELS.join(', ')} (default info; demo default warn).
exit status: 0 success, 1 failure or crash, 2 bad arguments`

/** The usage text for a help topic. */
export function usageOf(topic: HelpTopic): string {
  switch (topic) {
    case 'serve':
      return SERVE_USAGE
    case 'demo':
      return DEMO_USAGE
    case 'health':
      return HEALTH_USAGE
    case null:
      return USAGE
  }
}

const HELP_FLAGS = new Set(['--help', '-h'])

/** The colleague's own defaults, which the other timings are checked against when --ping-ms or --timeout-ms is not given. */
const DEFAULT_PING_MS = DEFAULTS.pingMs
const DEFAULT_TIMEOUT_MS = DEFAULTS.timeoutMs
/** Processes the demo starts: an island of 3 to 7 (not the island's own limit, MEMBERS_MAX). */
const DEMO_MEMBERS_MIN = 3
const DEMO_MEMBERS_MAX = 7
const KEYS_MAX = 10_000
const DEADLINE_MS_MAX = 600_000

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv
  switch (command) {
    case undefined:
      throw new UsageError('missing command')
    case '--help':
    case '-h':
    case 'help':
      refuseArguments(command, rest)
      return { command: 'help', topic: null }
    case '--version':
    case '-V':
    case 'version':
      refuseArguments(command, rest)
      return { command: 'version' }
    case 'serve':
    case 'demo':
    case 'health':
      // `COMMAND --help` anywhere before a lone `--` asks for that command's usage, whatever else is given.
      if (wantsHelp(rest)) return { command: 'help', topic: command }
      break
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  }
  switch (command) {
    case 'serve':
      return parseServe(rest)
    case 'demo':
      return parseDemo(rest)
    case 'health':
      return parseHealth(rest)
  }
}

/** `--help` and `--version` alone take nothing after them (`COMMAND --help` is the help of a command). */
function refuseArguments(command: string, rest: readonly string[]): void {
  const [first] = rest
  if (first !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(first)} after ${command}`)
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => HELP_FLAGS.has(arg))
}

/** The options each command takes (its usage text names every one). */
export const SERVE_OPTIONS = {
  island: { type: 'string' },
  bind: { type: 'string' },
  bootstrap: { type: 'boolean' },
  join: { type: 'string' },
  id: { type: 'string' },
  location: { type: 'string' },
  'ping-ms': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'minority-pace-ms': { type: 'string' },
  'parliament-size': { type: 'string' },
  'secret-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'snapshot-every': { type: 'string' },
  'log-level': { type: 'string' },
} as const satisfies OptionSpec

export const DEMO_OPTIONS = {
  members: { type: 'string' },
  keys: { type: 'string' },
  'deadline-ms': { type: 'string' },
  'log-level': { type: 'string' },
  status: { type: 'boolean' },
} as const satisfies OptionSpec

export const HEALTH_OPTIONS = {
  'timeout-ms': { type: 'string' },
} as const satisfies OptionSpec

function parseServe(argv: readonly string[]): Command {
  const values = parseStrict(argv, SERVE_OPTIONS)
  const island = requireString(values, 'island')
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(island)) {
    throw new UsageError('--island must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
  }
  const { host, port } = parseBind(requireString(values, 'bind'))
  const bootstrap = values['bootstrap'] === true
  const joinText = optionalString(values, 'join')
  if (bootstrap === (joinText !== null)) {
    throw new UsageError('give exactly one of --bootstrap and --join URL')
  }
  const join = joinText === null ? null : parseJoin(joinText)
  const location = optionalString(values, 'location')
  if (location !== null) parseLocation(location)
  const id = optionalString(values, 'id')
  if (id !== null && !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    throw new UsageError('--id must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
  }
  if (id !== null && RESERVED_IDS.has(id)) throw new UsageError(`--id cannot be ${id}, the name of a property every object has`)
  const pingMs = optionalInteger(values, 'ping-ms', 1, 60_000)
  const timeoutMs = optionalInteger(values, 'timeout-ms', 1, 600_000)
  if ((timeoutMs ?? DEFAULT_TIMEOUT_MS) <= (pingMs ?? DEFAULT_PING_MS)) {
    throw new UsageError(
      `--timeout-ms (${timeoutMs ?? `default ${DEFAULT_TIMEOUT_MS}`}) must be greater than --ping-ms (${pingMs ?? `default ${DEFAULT_PING_MS}`})`,
    )
  }
  const minorityPaceMs = optionalInteger(values, 'minority-pace-ms', 0, 60_000)
  if (minorityPaceMs !== null && minorityPaceMs > (pingMs ?? DEFAULT_PING_MS)) {
    throw new UsageError(`--minority-pace-ms must be at most --ping-ms (${pingMs ?? DEFAULT_PING_MS})`)
  }
  const parliamentSize = optionalInteger(values, 'parliament-size', 1, 15)
  if (parliamentSize !== null && parliamentSize % 2 === 0) {
    throw new UsageError('--parliament-size must be odd')
  }
  const secretFile = optionalString(values, 'secret-file')
  if (secretFile === '') throw new UsageError('--secret-file needs a path')
  const dataDir = optionalString(values, 'data-dir')
  if (dataDir === '') throw new UsageError('--data-dir needs a path')
  const snapshotEvery = optionalInteger(values, 'snapshot-every', 1, 1_000_000_000)
  if (snapshotEvery !== null && dataDir === null) throw new UsageError('--snapshot-every needs --data-dir')
  return {
    command: 'serve',
    options: {
      island,
      host,
      port,
      bootstrap,
      join,
      id,
      location,
      pingMs,
      timeoutMs,
      minorityPaceMs,
      parliamentSize,
      secretFile,
      dataDir,
      snapshotEvery,
      logLevel: parseLogLevel(optionalString(values, 'log-level') ?? 'info'),
    },
  }
}

function parseDemo(argv: readonly string[]): Command {
  const values = parseStrict(argv, DEMO_OPTIONS)
  return {
    command: 'demo',
    options: {
      members: optionalInteger(values, 'members', DEMO_MEMBERS_MIN, DEMO_MEMBERS_MAX) ?? 3,
      keys: optionalInteger(values, 'keys', 1, KEYS_MAX) ?? 30,
      deadlineMs: optionalInteger(values, 'deadline-ms', 1_000, DEADLINE_MS_MAX) ?? 60_000,
      logLevel: parseLogLevel(optionalString(values, 'log-level') ?? 'warn'),
      status: values['status'] === true,
    },
  }
}

function parseHealth(argv: readonly string[]): Command {
  const { values, positionals } = parseWithPositionals(argv, HEALTH_OPTIONS)
  const [url, ...extra] = positionals
  if (url === undefined) throw new UsageError('health needs the URL of a member')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  parseHttpUrl('URL', url)
  return {
    command: 'health',
    url,
    timeoutMs: optionalInteger(values, 'timeout-ms', 1, 600_000) ?? 5_000,
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>
type Values = Record<string, string | boolean | undefined>

function parseStrict(argv: readonly string[], options: OptionSpec): Values {
  const { values, positionals } = parseWithPositionals(argv, options)
  const [first] = positionals
  if (first !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(first)}`)
  return values
}

function parseWithPositionals(
  argv: readonly string[],
  options: OptionSpec,
): { values: Values; positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: true, tokens: true })
  } catch (error) {
    // parseArgs' messages are already one line and name the option.
    throw new UsageError(error instanceof Error ? firstLine(error.message) : String(error))
  }
  // parseArgs keeps the last of a repeated option; which one the user meant is not ours to guess.
  const seen = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  return { values: parsed.values as Values, positionals: parsed.positionals }
}

/**
 * `--ping-ms -5` reads to parseArgs as two options; join such a value to its
 * option (`--ping-ms=-5`) so that the range check can say what is wrong with it.
 */
function joinNegativeValues(argv: readonly string[], options: OptionSpec): string[] {
  const joined: string[] = []
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string
    const next = argv[index + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : null
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-[0-9.]/.test(next)) {
      joined.push(`${arg}=${next}`)
      index++
    } else {
      joined.push(arg)
    }
  }
  return joined
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text
}

function requireString(values: Values, name: string): string {
  const value = optionalString(values, name)
  if (value === null) throw new UsageError(`missing --${name}`)
  return value
}

function optionalString(values: Values, name: string): string | null {
  const value = values[name]
  return typeof value === 'string' ? value : null
}

function optionalInteger(values: Values, name: string, min: number, max: number): number | null {
  const text = optionalString(values, name)
  if (text === null) return null
  const value = Number(text)
  if (!/^-?[0-9]+$/.test(text) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`)
  }
  return value
}

function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text)
  if (level === undefined) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  return level
}

/** `HOST:PORT`, `[IPv6]:PORT`; port 0 asks the system for a free port. */
export function parseBind(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(text)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (host === undefined || !Number.isInteger(port) || port > 65_535) {
    throw new UsageError(`--bind must be HOST:PORT, got ${JSON.stringify(text)}`)
  }
  return { host, port }
}

function parseHttpUrl(name: string, text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`${name} must be an http URL, got ${JSON.stringify(text)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} must be an http URL, got ${JSON.stringify(text)}`)
  }
  return url
}

/** `--join URL[,URL...]`: 1 to 64 http URLs, each of a living member; any that answers will do. */
function parseJoin(text: string): string[] {
  const urls = text.split(',')
  if (urls.length > MEMBERS_MAX) throw new UsageError(`--join takes at most ${MEMBERS_MAX} URLs`)
  for (const url of urls) parseHttpUrl('--join', url)
  return urls
}

/** A URL, and one the colleague takes as its location (`isHttpLocation`), which `new URL` alone is looser than. */
function parseLocation(text: string): void {
  parseHttpUrl('--location', text)
  if (!isHttpLocation(text)) {
    throw new UsageError(`--location must begin with http:// or https://, in lower case, and be at most ${LOCATION_LENGTH_MAX} characters, got ${JSON.stringify(text.slice(0, 80))}`)
  }
}

/** A member that cannot start (port in use, unreachable join URL, unreadable secret): one line, exit 1. */
export class StartError extends Error {
  override readonly name = 'StartError'
}
