import { z } from 'zod';
import { LoadSchema } from '../protocol/load.js';
import { TABLE_ROWS_MAX } from '../protocol/bounds.js';
import { NodeNameSchema as Name } from '../protocol/names.js';

// Checked by hand on the wire as well (cluster/message-checks.ts): the Gateway asks twice a second.
/** Agent-level queries that are not part of a protocol core: the Gateway asking for the table. */
export { TABLE_ROWS_MAX };

export const TableRowSchema = z.object({
  name: Name,
  pid: z.number().int().optional(),
  role: z.string().max(16),
  status: z.enum(['alive', 'suspect', 'dead']),
  incarnation: z.number().int().min(0),
  monitor: Name.nullable(),
  load: LoadSchema,
  languages: z.array(z.string().max(24)).max(16),
});
export type TableRow = z.infer<typeof TableRowSchema>;

export const AgentMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('table_request'), from: Name, requestId: z.string().max(64) }),
  z.object({
    type: z.literal('table_reply'),
    from: Name,
    requestId: z.string().max(64),
    leader: Name.nullable(),
    term: z.number().int().min(0),
    rows: z.array(TableRowSchema).max(TABLE_ROWS_MAX),
  }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
