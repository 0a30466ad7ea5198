// The run messages' bounds and type names without zod: a Worker process checks the run messages
// it receives by hand (src/worker/run-form.ts) and imports these without loading zod (~8 MB per
// isolate that loads it). The zod schemas that use them live in run-messages.ts, which re-exports
// them; test/worker/run-form.test.ts holds the two checks side by side.

export const RUN_ID_LENGTH_MAX = 64;
export const RUN_FILES_MAX = 16;
export const RUN_SOURCE_BYTES_MAX = 1024 * 1024;
/** Command-line arguments of one run, and the length of one. */
export const RUN_ARGS_MAX = 64;
export const RUN_ARG_BYTES_MAX = 4096;
export const RUN_STDIN_BYTES_MAX = 16 * 1024 * 1024;
export const INPUT_MESSAGE_BYTES_MAX = 64 * 1024;
/** A run's user, language and file names, and free texts (messages, reasons). */
export const RUN_USER_LENGTH_MAX = 64;
export const RUN_LANGUAGE_LENGTH_MAX = 32;
export const RUN_FILE_NAME_LENGTH_MAX = 128;
export const RUN_TEXT_MAX = 4096;
/** Chunks one run_output message may carry: 64 x 1500 bytes stays under 100 KiB a frame. */
export const CHUNKS_PER_MESSAGE_MAX = 64;
/** Placements of one run (the first and every restart after its Worker was lost). */
export const RUN_ATTEMPTS_MAX = 16;

/** Every run message type, in RunMessageSchema's order (a test holds the two equal). */
export const RUN_MESSAGE_TYPES = [
  'run_submit', 'run_input', 'run_eof', 'run_kill', 'run_queued', 'run_started', 'run_refused', 'run_restart',
  'run_output', 'run_exit', 'run_evicted', 'run_attach', 'run_attached', 'offer', 'run_ack', 'offer_reply',
  'worker_load', 'run_claim', 'replica_hold', 'replica_placed', 'replica_output', 'replica_exit',
  'replica_restart', 'replica_handoff', 'replica_ack', 'run_takeover',
] as const;
