// A run's output as it travels: numbered chunks of one stream each, cut by the runner and relayed
// unchanged by the Worker, the Assigner and the Gateway.

/** Largest chunk a run's output leaves the runner in: fits one Ethernet frame's payload. */
export const CHUNK_BYTES_MAX = 1500;

export const STREAM_NAMES = ['stdout', 'stderr', 'compile'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];
