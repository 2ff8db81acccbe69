// The newcomer's side of an out-of-band request: exactly one POST /oob, no
// retry. Any failure (unreachable, timeout, non-2xx, malformed answer) comes
// back as OUT_OF_BAND_FAILED; the colleague decides to crash on it.

import { ColleagueError } from './errors.js'
import type { PeerClient } from './peer-client.js'
import { validators, type OutOfBandBody } from './schemas.js'

export async function callOutOfBand(
  client: PeerClient,
  location: string,
  body: OutOfBandBody,
  timeoutMs: number,
): Promise<unknown> {
  let answer
  try {
    answer = await client.post(location, '/oob', JSON.stringify(body), timeoutMs)
  } catch (error) {
    throw failed(`${location} unreachable or timed out`, error)
  }
  if (answer.status < 200 || answer.status > 299) {
    throw failed(`${location} answered ${answer.status}: ${answer.text.slice(0, 200)}`, answer.text)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(answer.text)
  } catch (error) {
    throw failed(`${location} answered a body that is not JSON`, error)
  }
  if (!validators.oobAnswer.Check(parsed)) throw failed(`${location} answered without a result`, answer.text)
  return parsed.result
}

function failed(message: string, cause: unknown): ColleagueError {
  return new ColleagueError('OUT_OF_BAND_FAILED', `out-of-band request failed: ${message}`, { cause })
}
