// blog: the decentralized blogging platform's command line (up, node).
import { Command, CommanderError } from 'commander';
import { WorldError } from '../world/world.js';
import { nodeCommand } from './node.js';
import { UsageError } from './options.js';
import { upCommand } from './up.js';

const program = new Command();
program
  .name('blog')
  .description('the decentralized blogging platform: continent (L1) and country (L2) servers')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('up')
  .description('start a small world on this machine: seven L1s and a dozen L2s on loopback, each its own process and SQLite file')
  .option('--base-port <port>', 'L1s listen on base..base+6, L2s from base+10 (default 7400)')
  .option('--propagation-ms <ms>', 'batch timeout between continents (default 2 h)')
  .option('--sync-ms <ms>', 'L1 sync interval (default 24 h)')
  .option('--dir <dir>', 'folder for the world file, databases and logs (default: a new temporary folder)')
  .action(async (opts) => {
    process.exitCode = await upCommand(opts);
  });

program
  .command('node')
  .description('run one server (L1 or L2) of a world file')
  .requiredOption('--world <file>', 'the world file (YAML)')
  .requiredOption('--name <name>', "this server's name in the world file")
  .option('--data <dir>', 'folder for its SQLite file <name>.db (default ./blog-data)')
  .option('--propagation-ms <ms>', "override the world file's propagationTimeoutMs")
  .option('--sync-ms <ms>', "override the world file's syncIntervalMs")
  .action(async (opts) => {
    process.exitCode = await nodeCommand(opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof WorldError || err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`blog: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
