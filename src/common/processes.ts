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
