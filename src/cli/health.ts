// `paxos-colleague health URL`: one member's health, readable.

import { callJson, describeFailure } from './http-client.js'
import { formatHealth, printable } from './health-view.js'

export interface HealthIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
}

export async function health(url: string, timeoutMs: number, io: HealthIo): Promise<number> {
  const base = url.replace(/\/+$/, '')
  const target = base.endsWith('/health') ? base : `${base}/health`
  try {
    const answer = await callJson(target, { timeoutMs })
    if (answer.status !== 200) {
      io.stderr.write(`paxos-colleague: GET ${target} answered ${answer.status}: ${printable(JSON.stringify(answer.body) ?? '')}\n`)
      return 1
    }
    io.stdout.write(`${formatHealth(base, answer.body)}\n`)
    return 0
  } catch (error) {
    io.stderr.write(`paxos-colleague: GET ${target} failed: ${printable(describeFailure(error))}\n`)
    return 1
  }
}
