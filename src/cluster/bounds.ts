// The cluster protocol's bounds and message types for the cluster cores and a Worker's heartbeat
// thread, without loading zod: the bounds come from protocol/bounds.ts (no zod there), and the
// message types are re-exported as types only (erased at run time), so a core imports both from
// here without a run-time edge to messages.ts and its schemas.
export * from '../protocol/bounds.js';
export type * from './messages.js';
export { ZERO_LOAD } from '../protocol/bounds.js';
