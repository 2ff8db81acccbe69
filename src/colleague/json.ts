// What a log value and a snapshot may be: JSON, checked by the compiler.
// `enqueue` refuses at run time what JSON cannot carry exactly; these types
// refuse most of it earlier, at compile time (a function, a bigint, a symbol,
// undefined outside an object property, a class instance with methods).

export type JsonPrimitive = string | number | boolean | null

/**
 * A JSON value. An object property may be `undefined` (or optional): JSON
 * leaves it out, so every member applies the object without it.
 *
 * Shapes declared with `type` are assignable; shapes declared with
 * `interface` are not, because TypeScript gives interfaces no implicit index
 * signature: declare value types with `type`.
 */
export type JsonValue = JsonPrimitive | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined }
