// The wire's bounds and constants without zod: the cluster cores and a Worker's heartbeat thread
// import them without loading zod (~8 MB per isolate that loads it; the heartbeat thread checks
// its few messages by hand, src/worker/heartbeat-form.ts). The schemas that use them live in
// names.ts, load.ts and cluster/messages.ts.

export const NODE_NAME_LENGTH_MAX = 64;
export const LANGUAGES_PER_NODE_MAX = 16;
export const LANGUAGE_NAME_LENGTH_MAX = 24;
/** Monitors a heartbeat ack lists; ≈ nodes ÷ 50 gives room for a 3,000-node cluster. */
export const MONITORS_MAX = 64;
/** Catch-up digests per gossip_push (one page of the sender's change log): ~25 bytes each. */
export const GOSSIP_DIGESTS_PER_MESSAGE_MAX = 96;
/** "News" digests per gossip_push: changes of the sender's last few rounds, relayed epidemically
 * whatever the pair's catch-up position, so fresh news (a death) spreads in O(log Monitors) rounds. */
export const GOSSIP_NEWS_PER_MESSAGE_MAX = 32;
/** Full entries per gossip_pull/gossip_entries: ~100 bytes each, a message stays near 13 KiB. */
export const GOSSIP_ENTRIES_PER_MESSAGE_MAX = 128;
/** Worker loads per monitor_heartbeat; a Monitor owning more rotates through them. */
export const MONITOR_HEARTBEAT_WORKERS_MAX = 256;
/** Run slots a node may advertise (a lab PC has 8 cores; 1024 leaves room for big servers). */
export const SLOTS_MAX = 1024;
/** Assigners a monitor_heartbeat lists: ~1 per 10 lab PCs leaves room for a 3,000-node campus. */
export const ASSIGNERS_MAX = 512;
export const REQUEST_ID_LENGTH_MAX = 64;
/** Rows in one table_reply (the Gateway's copy of a Monitor's table). */
export const TABLE_ROWS_MAX = 4096;

/** A node that reports nothing yet (structurally a `Load`, see load.ts; typed there). */
export const ZERO_LOAD = Object.freeze({ psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 0, slotsBusy: 0 });
