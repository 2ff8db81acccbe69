// Limits on what a peer may send: ids, names, and array lengths. The schemas
// (schemas.ts) and the hand-written kibitz check (kibitz-check.ts) both read
// them here.

export const ID_LENGTH_MAX = 256
export const NAME_LENGTH_MAX = 256
export const LOCATION_LENGTH_MAX = 2048
export const MESSAGES_PER_BODY_MAX = 16_384
export const ENTRIES_PER_MESSAGE_MAX = 65_536

/**
 * What a member tells the others about itself on the wire (its `location`,
 * with room for a few more): short strings under short names, so that the
 * governments carrying every member's properties stay far below a body's size.
 */
export const PROPERTIES_MAX = 8
