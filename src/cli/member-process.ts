// A child process that serves, as the demo, the CLI's tests, the fault
// harness and the benchmark drive it: spawn, wait for its "listening URL"
// line, stop it, or kill it.

import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built binary next to this module. */
export const MAIN_PATH = fileURLToPath(new URL('./main.js', import.meta.url))

const STDERR_LINES_KEPT = 40
const LISTENING = /^listening (http:\/\/\S+)$/m

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface MemberProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves with the member's URL once it is a member; rejects if it exits or times out first. */
  readonly ready: Promise<string>
  readonly exited: Promise<Exit>
  readonly url: string | null
  /** The last lines it wrote on stderr (its JSON logs), for failure reports. */
  stderrTail(): string
  kill(signal: NodeJS.Signals): void
  /** SIGTERM, then SIGKILL past `timeoutMs`; resolves with how it exited. */
  stop(timeoutMs: number): Promise<Exit>
}

export interface SpawnMember {
  readonly name: string
  readonly args: readonly string[]
  readonly readyTimeoutMs: number
  readonly mainPath?: string
  /** Environment of the child; default this process's. */
  readonly env?: NodeJS.ProcessEnv
}

/** A `paxos-colleague serve` member. */
export function spawnMember(options: SpawnMember): MemberProcess {
  return spawnListening({
    name: options.name,
    command: process.execPath,
    args: [options.mainPath ?? MAIN_PATH, 'serve', ...options.args],
    readyTimeoutMs: options.readyTimeoutMs,
    ipc: true,
    ...(options.env === undefined ? {} : { env: options.env }),
  })
}

export interface SpawnListening {
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  readonly readyTimeoutMs: number
  /**
   * Open an IPC channel (Node.js children only): it lets a member notice
   * that its parent died, even by SIGKILL, and stop, so no member outlives
   * the demo or a test.
   */
  readonly ipc?: boolean
  readonly env?: NodeJS.ProcessEnv
}

/** Any process that prints `listening URL` on stdout once it serves. */
export function spawnListening(options: SpawnListening): MemberProcess {
  const child = spawn(options.command, options.args, {
    stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: options.env }),
  })
  child.channel?.unref()
  const tail: string[] = []
  let url: string | null = null
  let stdout = ''

  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${options.name} did not print its URL within ${options.readyTimeoutMs} ms`))
    }, options.readyTimeoutMs)
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      if (url !== null) return
      stdout = (stdout + chunk).slice(-4096)
      const match = LISTENING.exec(stdout)
      if (match?.[1] !== undefined) {
        url = match[1]
        clearTimeout(timer)
        resolve(url)
      }
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before it was ready`))
    })
  })
  // A rejection nobody awaits must not bring the parent down.
  ready.catch(() => undefined)

  child.stderr?.setEncoding('utf8')
  let partial = ''
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = (lines.pop() ?? '').slice(-4096)
    tail.push(...lines.filter((line) => line.length > 0))
    if (tail.length > STDERR_LINES_KEPT) tail.splice(0, tail.length - STDERR_LINES_KEPT)
  })

  let finished = false
  void exited.then(() => {
    finished = true
  })
  const kill = (signal: NodeJS.Signals): void => {
    if (!finished) child.kill(signal)
  }
  return {
    name: options.name,
    child,
    ready,
    exited,
    get url() {
      return url
    },
    stderrTail: () => [...tail, partial].filter((line) => line.length > 0).join('\n'),
    kill,
    async stop(timeoutMs) {
      kill('SIGTERM')
      const timer = setTimeout(() => kill('SIGKILL'), timeoutMs)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}
