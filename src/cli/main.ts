import { Command } from 'commander';
import { availableLanguages } from '../sandbox/languages.js';
import { exitOnError } from './errors.js';
import { execCommand } from './exec.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';

const program = new Command();
program
  .name('codearena')
  .description("CodeArena's local cloud: run students' code in rootless sandboxes on lab PCs")
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('exec')
  .description('run one file in the sandbox on this machine (no cluster)')
  .argument('<file>', 'source file; its extension picks the language unless --lang is given')
  .option('--lang <language>', 'c, cpp, python, java or javascript')
  .option('--stdin <file>', 'feed this file to the program as stdin')
  .option('--time-limit <seconds>', 'CPU time limit in seconds (default 5)')
  .option('--wall-time-limit <seconds>', 'wall-clock limit in seconds (default 30, or 3x the CPU limit)')
  .option('--memory-limit <MB>', 'memory limit in MB (default 256)')
  .option('--json', 'print one JSON result object instead of behaving like the program')
  .action(async (file: string, opts) => {
    process.exitCode = await execCommand(file, opts);
  });

program
  .command('languages')
  .description('list the languages this machine can run, with versions')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const langs = await availableLanguages();
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(langs)}\n`);
      return;
    }
    if (langs.length === 0) {
      process.stdout.write('no toolchains found — run scripts/setup.sh as root\n');
      return;
    }
    for (const l of langs) process.stdout.write(`${l.id.padEnd(12)}${l.version.padEnd(24)}${l.extensions.join(' ')}\n`);
  });

program
  .command('run')
  .description('run a file on the cluster as if it ran here: live output, typed input, its exit code')
  .argument('<file>', 'source file; its extension picks the language unless --lang is given')
  .option('--lang <language>', 'c, cpp, python, java or javascript')
  .option('--gateway <urls>', 'gateway URL(s), comma-separated, tried in order (default $CODEARENA_GATEWAY or http://127.0.0.1:8080)')
  .option('--token <token>', 'bearer token (default $CODEARENA_TOKEN)')
  .option('--stdin <file>', 'feed this file as stdin')
  .option('--json', 'print the final result object')
  .action(async (file: string, opts) => {
    process.exitCode = await runCommand(file, opts);
  });

program
  .command('status')
  .description('the cluster at a glance: nodes, roles, load, runs')
  .option('--gateway <urls>', 'gateway URL(s), comma-separated')
  .option('--token <token>', 'bearer token (default $CODEARENA_TOKEN)')
  .option('--json', 'print JSON')
  .action(async (opts) => {
    process.exitCode = await statusCommand(opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  exitOnError(err);
}
