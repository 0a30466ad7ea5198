// A run's statuses, defined once: the sandbox ends a run with one of RUN_STATUSES; the cluster
// adds node_lost (its Worker died and it could not run again); clients also see the stages before.

/** How a sandbox run ends. */
export const RUN_STATUSES = ['ok', 'compile_error', 'runtime_error', 'time_limit', 'wall_time_limit', 'memory_limit', 'output_limit', 'killed', 'internal_error'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** How a run ends anywhere in the cluster (the wire's run_exit, a backend's result). */
export const RUN_RESULT_STATUSES = [...RUN_STATUSES, 'node_lost'] as const;
export type RunResultStatus = (typeof RUN_RESULT_STATUSES)[number];

/** A run's status as clients see it: the terminal statuses, plus the stages before one. */
export type RunStatusName = 'queued' | 'running' | RunResultStatus;
