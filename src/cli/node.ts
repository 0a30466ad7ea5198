import { startLabNode } from '../roles/node.js';

/** Runs the node agent until SIGTERM or SIGINT, then stops it cleanly. */
export async function runNodeCommand(opts: { config: string; name?: string; stateDir?: string }): Promise<void> {
  const agent = await startLabNode({
    configPath: opts.config,
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await agent.stop();
  process.exit(0);
}
