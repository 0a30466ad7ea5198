import type { ChildProcess } from 'node:child_process';

/** Asks each child to stop (SIGTERM), kills any still there after graceMs, resolves when all are gone. */
export function stopChildren(children: Iterable<ChildProcess>, graceMs: number): Promise<void> {
  return Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), graceMs).unref();
        }),
    ),
  ).then(() => undefined);
}

/**
 * Node flags for the node agents and Worker processes a cluster starts, from CODEARENA_NODE_FLAGS
 * (space-separated; e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile every process, which
 * NODE_OPTIONS does not allow).
 */
export function childNodeFlags(): string[] {
  return (process.env.CODEARENA_NODE_FLAGS ?? '').split(' ').filter((f) => f.length > 0);
}
