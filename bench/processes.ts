// Every process the benchmark starts is registered here, so that any way
// out (normal end, failure, SIGINT, SIGTERM) kills what is left of them and
// removes the temporary directories.

import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'

const children = new Set<ChildProcess>()
const directories = new Set<string>()

export function track<T extends ChildProcess>(child: T): T {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export function trackDirectory(path: string): string {
  directories.add(path)
  return path
}

/** SIGKILLs every registered process still running, each by its own pid. */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }
  children.clear()
}

export function removeDirectories(): void {
  for (const path of directories) rmSync(path, { recursive: true, force: true })
  directories.clear()
}

export function cleanup(): void {
  killAll()
  removeDirectories()
}

/** Waits until `child` exits, or SIGKILLs it after `timeoutMs`. */
export function stopProcess(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

let installed = false

/** Cleans up on exit and turns SIGINT/SIGTERM into a cleanup and exit 130/143. */
export function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', cleanup)
  process.on('SIGINT', () => {
    process.stderr.write('\ninterrupted: stopping every process the benchmark started\n')
    cleanup()
    process.exit(130)
  })
  process.on('SIGTERM', () => {
    cleanup()
    process.exit(143)
  })
}
