// The state an application keeps where neither `snapshot()` nor the
// object's own enumerable fields show it: in closures and in private class
// fields. An application written as a factory (`let balances = {}; return {
// entry, snapshot, restore }`) holds its state in variables, and a class may
// hold it in `#fields`: a `snapshot()` that forgets one of them would go
// unseen. V8's inspector, on this thread, lists the variables a function
// closes over and an object's private fields; the simulator reads those of
// each member's `entry` (up to the module's scope) and of the application
// object, so that members at the same applied position can be compared on
// them too.
//
// The inspector answers a same-thread session synchronously. Where it cannot
// be used (no inspector in this build of Node, or it answers later), the
// closure state is not read and `closureState` returns null.

import { Session } from 'node:inspector'

/** The inspector's description of a scope whose variables are the application's own. */
const OWN_SCOPE = /^(Closure|Block|Local|Catch)\b/
/** Where the inspector stops: what every member shares. */
const SHARED_SCOPE = /^(Module|Script|Global|With)\b/
const GROUP = 'paxos-colleague-hidden-state'
const HANDOFF = '__paxosColleagueHiddenState'

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
  readonly value?: RemoteObject & { readonly value?: unknown; readonly unserializableValue?: string }
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

function properties(call: Post, objectId: string): { result: PropertyDescriptor[]; internal: PropertyDescriptor[]; private: PropertyDescriptor[] } {
  const answer = call('Runtime.getProperties', { objectId, ownProperties: true, generatePreview: false })
  return {
    result: (answer.result ?? []) as PropertyDescriptor[],
    internal: (answer.internalProperties ?? []) as PropertyDescriptor[],
    private: (answer.privateProperties ?? []) as PropertyDescriptor[],
  }
}

/**
 * The private fields (`#name`) of `object`, name to value: {} for an object
 * without any, null when the inspector cannot be used.
 */
export function privateFields(object: object): Record<string, unknown> | null {
  return inspect(object, (call, objectId) => {
    const fields: Record<string, unknown> = {}
    for (const field of properties(call, objectId).private) {
      const value = field.value
      if (value === undefined) continue
      if (value.objectId !== undefined) fields[field.name] = fetchValue(call, value.objectId)
      else if (value.unserializableValue !== undefined) fields[field.name] = value.unserializableValue
      else fields[field.name] = value.value
    }
    return fields
  })
}

/**
 * The variables `fn` closes over, scope by scope from the innermost, as
 * plain objects (name to value), up to the module's scope; a bound
 * function's bound `this` and arguments come first. Null when the inspector
 * cannot be used.
 */
export function closureState(fn: (...args: never[]) => unknown): unknown[] | null {
  return inspect(fn, (call, objectId) => {
    const { bound, scopes } = scopesOf(call, objectId, 0)
    return [...bound.map((id) => fetchValue(call, id)), ...scopes.map((id) => (fetchValue(call, id) as { object?: unknown } | null)?.object)]
  })
}

function inspect<T>(target: object, read: (call: Post, objectId: string) => T): T | null {
  const call = inspector()
  if (call === null) return null
  const global = globalThis as Record<string, unknown>
  try {
    global[HANDOFF] = target
    const remote = call('Runtime.evaluate', { expression: `globalThis.${HANDOFF}`, objectGroup: GROUP }).result as RemoteObject
    delete global[HANDOFF]
    if (remote.objectId === undefined) return null
    return read(call, remote.objectId)
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
