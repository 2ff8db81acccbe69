// The state an application keeps in closures. An application written as a
// factory (`let balances = {}; return { entry, snapshot, restore }`) holds its
// state in variables that neither `snapshot()` nor the object's own fields
// show: a `snapshot()` that forgets one of them would go unseen. V8's
// inspector, on this thread, lists the variables a function closes over; the
// simulator reads those of each member's `entry` (the scopes around it, up
// to those around the function that built the application, which all
// members share), so that members at the same applied position can be
// compared on them too.
//
// The inspector answers a same-thread session synchronously. Where it cannot
// be used (no inspector in this build of Node, or it answers later), the
// closure state is not read and `closureState` returns null.

import { Session } from 'node:inspector'

/** The inspector's description of a scope whose variables are the application's own. */
const OWN_SCOPE = /^(Closure|Block|Local|Catch)\b/
/** Where the inspector stops: what every member shares. */
const SHARED_SCOPE = /^(Module|Script|Global|With)\b/
const GROUP = 'paxos-colleague-closure-state'
const HANDOFF = '__paxosColleagueClosureState'

type Post = (method: string, params: object) => Record<string, unknown>

let post: Post | null | undefined

/** A synchronous caller into this thread's inspector, or null where there is none. */
function inspector(): Post | null {
  if (post !== undefined) return post
  try {
    const session = new Session()
    session.connect()
    const call: Post = (method, params) => {
      let answered = false
      let failure: Error | null = null
      let result: Record<string, unknown> = {}
      session.post(method, params, (error, value) => {
        answered = true
        failure = error
        result = (value ?? {}) as Record<string, unknown>
      })
      if (!answered) throw new Error(`the inspector did not answer ${method} at once`)
      if (failure !== null) throw failure
      return result
    }
    call('Runtime.evaluate', { expression: '0' })
    post = call
  } catch {
    post = null
  }
  return post
}

interface RemoteObject {
  readonly objectId?: string
  readonly description?: string
}

interface PropertyDescriptor {
  readonly name: string
  readonly value?: RemoteObject
}

/** Hands a value the inspector holds back to this script, through a global for the length of one call. */
function fetchValue(call: Post, objectId: string): unknown {
  const global = globalThis as Record<string, unknown>
  call('Runtime.callFunctionOn', {
    objectId,
    functionDeclaration: `function () { globalThis.${HANDOFF} = this }`,
    objectGroup: GROUP,
  })
  const value = global[HANDOFF]
  delete global[HANDOFF]
  return value
}

function properties(call: Post, objectId: string): { result: PropertyDescriptor[]; internal: PropertyDescriptor[] } {
  const answer = call('Runtime.getProperties', { objectId, ownProperties: true, generatePreview: false })
  return {
    result: (answer.result ?? []) as PropertyDescriptor[],
    internal: (answer.internalProperties ?? []) as PropertyDescriptor[],
  }
}

/**
 * The variables `fn` closes over, scope by scope from the innermost, as
 * plain objects (name to value), up to the module's scope and leaving out
 * the outermost `shared` of those scopes; a bound function's bound `this`
 * and arguments come first. Null when the inspector cannot be used.
 */
export function closureState(fn: (...args: never[]) => unknown, shared = 0): unknown[] | null {
  return inspect(fn, (call, objectId) => {
    const { bound, scopes } = scopesOf(call, objectId, 0)
    const own = scopes.slice(0, Math.max(0, scopes.length - shared))
    return [...bound.map((id) => fetchValue(call, id)), ...own.map((id) => (fetchValue(call, id) as { object?: unknown } | null)?.object)]
  })
}

/**
 * How many scopes of its own `fn` closes over, up to the module's: for the
 * function that builds each member's application, those every member's
 * application shares. Null when the inspector cannot be used.
 */
export function closureScopeCount(fn: (...args: never[]) => unknown): number | null {
  return inspect(fn, (call, objectId) => scopesOf(call, objectId, 0).scopes.length)
}

function inspect<T>(fn: (...args: never[]) => unknown, read: (call: Post, objectId: string) => T): T | null {
  const call = inspector()
  if (call === null) return null
  const global = globalThis as Record<string, unknown>
  try {
    global[HANDOFF] = fn
    const target = call('Runtime.evaluate', { expression: `globalThis.${HANDOFF}`, objectGroup: GROUP }).result as RemoteObject
    delete global[HANDOFF]
    if (target.objectId === undefined) return null
    return read(call, target.objectId)
  } catch {
    return null
  } finally {
    delete global[HANDOFF]
    try {
      call('Runtime.releaseObjectGroup', { objectGroup: GROUP })
    } catch {
      // Released with the session, at worst.
    }
  }
}

/** Bound functions nest; a few levels are plenty. */
const BOUND_DEPTH_MAX = 4

/** The object ids of a function's bound `this` and arguments, and of its own scopes, innermost first. */
function scopesOf(call: Post, objectId: string, depth: number): { bound: string[]; scopes: string[] } {
  const { internal } = properties(call, objectId)
  const target = internal.find((property) => property.name === '[[TargetFunction]]')?.value?.objectId
  if (target !== undefined && depth < BOUND_DEPTH_MAX) {
    const bound: string[] = []
    for (const name of ['[[BoundThis]]', '[[BoundArgs]]']) {
      const id = internal.find((property) => property.name === name)?.value?.objectId
      if (id !== undefined) bound.push(id)
    }
    const inner = scopesOf(call, target, depth + 1)
    return { bound: [...bound, ...inner.bound], scopes: inner.scopes }
  }
  const list = internal.find((property) => property.name === '[[Scopes]]')?.value?.objectId
  const scopes: string[] = []
  if (list === undefined) return { bound: [], scopes }
  for (const scope of properties(call, list).result) {
    if (!/^\d+$/.test(scope.name)) continue
    const description = scope.value?.description ?? ''
    if (SHARED_SCOPE.test(description)) break
    if (OWN_SCOPE.test(description) && scope.value?.objectId !== undefined) scopes.push(scope.value.objectId)
  }
  return { bound: [], scopes }
}
