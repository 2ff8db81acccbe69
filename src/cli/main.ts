#!/usr/bin/env node
// The paxos-colleague binary: argument errors exit 2, failures and crashes 1.

import { readFileSync } from 'node:fs'
import { parseCommand, StartError, USAGE, usageOf, UsageError, type Command } from './args.js'
import { demo } from './demo.js'
import { health } from './health.js'
import { tierUpSooner } from './tiering.js'

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const

async function run(command: Command): Promise<number> {
  switch (command.command) {
    case 'help':
      process.stdout.write(`${usageOf(command.topic)}\n`)
      return 0
    case 'version':
      process.stdout.write(`${packageVersion()}\n`)
      return 0
    case 'health':
      return health(command.url, command.timeoutMs, process)
    case 'demo': {
      const controller = new AbortController()
      for (const signal of STOP_SIGNALS) process.once(signal, () => controller.abort(new Error(signal)))
      return demo(command.options, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal })
    }
    case 'serve': {
      // Before the library loads, so that its functions are optimized sooner (see tiering.ts).
      const v8Flags = tierUpSooner()
      // Loaded on demand: the other commands do not need the library itself.
      const { serve } = await import('./serve.js')
      return serve(command.options, { stdout: process.stdout, stopped: stopRequested(), v8Flags })
    }
  }
}

/** SIGTERM, SIGINT, or the loss of the parent that spawned us with an IPC channel (the demo, a test). */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of STOP_SIGNALS) process.once(signal, () => resolve(signal))
    if (process.channel !== undefined) {
      process.channel.unref()
      process.once('disconnect', () => resolve('disconnect'))
    }
  })
}

/** The version in the package.json three folders up from dist/src/cli/main.js, installed or not. */
function packageVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

function usageError(error: UsageError): number {
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
