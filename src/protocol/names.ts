import { z } from 'zod';
import { NODE_NAME_LENGTH_MAX } from './bounds.js';

// A node's name as every wire message carries it (cluster, run, agent and judge-sync messages).
// The lab config is stricter (config/schema.ts: the PSK identity's characters, 63 at most); the
// wire only bounds what a peer can make a node hold.

export { NODE_NAME_LENGTH_MAX };
export const NodeNameSchema = z.string().min(1).max(NODE_NAME_LENGTH_MAX);
export type NodeName = z.infer<typeof NodeNameSchema>;
