// A small JSON client for the CLI's own calls (demo, health), every call
// bounded in time and cancellable.

export interface HttpAnswer {
  readonly status: number
  readonly body: unknown
}

export interface HttpCall {
  readonly method?: string
  /** Sent as JSON unless it is a string, which is sent as text. */
  readonly body?: unknown
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

export async function callJson(url: string, call: HttpCall): Promise<HttpAnswer> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error(`no answer from ${url} within ${call.timeoutMs} ms`)), call.timeoutMs)
  const onAbort = (): void => controller.abort(call.signal?.reason)
  call.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (call.signal?.aborted === true) throw call.signal.reason
    const init: RequestInit = { method: call.method ?? 'GET', signal: controller.signal }
    if (call.body !== undefined) {
      const text = typeof call.body === 'string'
      init.body = text ? (call.body as string) : JSON.stringify(call.body)
      init.headers = { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json' }
    }
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: parseOrText(text) }
  } catch (error) {
    // Surface the timeout or cancellation rather than undici's generic "aborted".
    if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason
    throw error
  } finally {
    clearTimeout(timer)
    call.signal?.removeEventListener('abort', onAbort)
  }
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** One line describing why a call failed, for reports. */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? ` (${String(cause.code)})` : ''
    return `${error.message}${code}`
  }
  return String(error)
}
