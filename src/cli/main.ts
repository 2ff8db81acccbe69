#!/usr/bin/env node
// The paxos-colleague binary: argument errors exit 2, failures and crashes 1.

import { readFileSync } from 'node:fs'
import type { Command } from './args.js'

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const

// A stop signal that comes while the command loads is kept for it, not left
// to kill the process: `serve` stopped at once still exits 0.
const early: string[] = []
const keep = (signal: string): void => void early.push(signal)
for (const signal of STOP_SIGNALS) process.on(signal, keep)

const { parseCommand, StartError, USAGE, usageOf, UsageError } = await import('./args.js')

/** The command takes the stop signals over: those kept so far are handed to `onStop`, later ones come to it. */
function takeStopSignals(onStop: (signal: string) => void): void {
  for (const signal of STOP_SIGNALS) {
    process.off(signal, keep)
    process.once(signal, () => onStop(signal))
  }
  const [first] = early
  if (first !== undefined) onStop(first)
}

/** A command that does not stop gracefully: stop signals do what they do by default, one kept so far included. */
function releaseStopSignals(): void {
  for (const signal of STOP_SIGNALS) process.off(signal, keep)
  const [first] = early
  if (first !== undefined) process.kill(process.pid, first)
}

async function run(command: Command): Promise<number> {
  switch (command.command) {
    case 'help':
      releaseStopSignals()
      process.stdout.write(`${usageOf(command.topic)}\n`)
      return 0
    case 'version':
      releaseStopSignals()
      process.stdout.write(`${packageVersion()}\n`)
      return 0
    case 'health': {
      releaseStopSignals()
      const { health } = await import('./health.js')
      return health(command.url, command.timeoutMs, process)
    }
    case 'demo': {
      const controller = new AbortController()
      takeStopSignals((signal) => controller.abort(new Error(signal)))
      const { demo } = await import('./demo.js')
      return demo(command.options, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal })
    }
    case 'serve': {
      // Taken over first: a SIGTERM while the library loads stops the member once it can, exit 0.
      const stopped = stopRequested()
      // Before the library loads, so that its functions are optimized sooner (see tiering.ts).
      const { tierUpSooner } = await import('./tiering.js')
      const v8Flags = tierUpSooner()
      // Loaded on demand: the other commands do not need the library itself.
      const { serve } = await import('./serve.js')
      return serve(command.options, { stdout: process.stdout, stopped, v8Flags })
    }
  }
}

/** SIGTERM, SIGINT, or the loss of the parent that spawned us with an IPC channel (the demo, a test). */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    takeStopSignals(resolve)
    // A parent with an IPC channel may have gone while the command loaded: the channel is null then.
    if (process.channel != null) {
      process.channel.unref()
      process.once('disconnect', () => resolve('disconnect'))
    } else if (typeof process.send === 'function' && !process.connected) {
      resolve('disconnect')
    }
  })
}

/** The version in the package.json three folders up from dist/src/cli/main.js, installed or not. */
function packageVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

function usageError(error: InstanceType<typeof UsageError>): number {
  process.stderr.write(`paxos-colleague: ${error.message}\n${USAGE}\n`)
  return 2
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    return await run(parseCommand(argv))
  } catch (error) {
    if (error instanceof UsageError) return usageError(error)
    if (error instanceof StartError) {
      process.stderr.write(`paxos-colleague: ${error.message}\n`)
      return 1
    }
    process.stderr.write(`paxos-colleague: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return 1
  }
}

// Exit only once stdout has drained, so a piped report is never cut short.
const code = await main(process.argv.slice(2))
process.stdout.write('', () => process.exit(code))
