// `blog node`: one server of a world file, until SIGTERM/SIGINT.
import { BlogServer } from '../server/node.js';
import { findServer, loadWorld } from '../world/world.js';
import { intOption, UsageError } from './options.js';

export interface NodeOptions {
  world: string;
  name: string;
  data?: string;
  propagationMs?: string;
  syncMs?: string;
}

export async function nodeCommand(opts: NodeOptions): Promise<number> {
  const world = loadWorld(opts.world);
  if (findServer(world, opts.name) === undefined) {
    throw new UsageError(`--name: no server "${opts.name}" in ${opts.world} (it has ${world.servers.map((s) => s.name).join(', ')})`);
  }
  if (opts.propagationMs !== undefined) world.intervals.propagationTimeoutMs = intOption(opts.propagationMs, '--propagation-ms', 1, 7 * 86_400_000, 0);
  if (opts.syncMs !== undefined) world.intervals.syncIntervalMs = intOption(opts.syncMs, '--sync-ms', 1, 30 * 86_400_000, 0);
  const server = new BlogServer({ world, name: opts.name, dataDir: opts.data ?? 'blog-data' });
  await server.listen();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void server.close().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
