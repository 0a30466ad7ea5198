import { Command } from 'commander';
import { exitOnError } from './errors.js';

// Every command imports its module when it runs (`await import`), so a command pays only for its
// own: a Worker process (`worker-proc`, one per core) loads neither the HTTP client nor the sandbox
// runner's CLI, and no zod or config loader at all.

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
    const { execCommand } = await import('./exec.js');
    process.exitCode = await execCommand(file, opts);
  });

program
  .command('languages')
  .description('list the languages this machine can run, with versions')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const { availableLanguages } = await import('../sandbox/languages.js');
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

/** `--gateway A --gateway B` and `--gateway A,B` both mean: try A, then B. */
function joinUrls(value: string, previous: string | undefined): string {
  return previous ? `${previous},${value}` : value;
}

program
  .command('run')
  .description('run a file on the cluster as if it ran here: live output, typed input, its exit code')
  .argument('<file>', 'source file; its extension picks the language unless --lang is given')
  .option('--lang <language>', 'c, cpp, python, java or javascript')
  .option('--gateway <urls>', 'gateway URL(s), comma-separated or the option repeated, tried in order (default $CODEARENA_GATEWAY or http://127.0.0.1:8080)', joinUrls)
  .option('--token <token>', 'bearer token (default $CODEARENA_TOKEN)')
  .option('--stdin <file>', 'feed this file as stdin')
  .option('--json', 'print the final result object')
  .action(async (file: string, opts) => {
    const { runCommand } = await import('./run.js');
    process.exitCode = await runCommand(file, opts);
  });

program
  .command('status')
  .description('the cluster at a glance: nodes, roles, load, runs')
  .option('--gateway <urls>', 'gateway URL(s), comma-separated or the option repeated, tried in order', joinUrls)
  .option('--token <token>', 'bearer token (default $CODEARENA_TOKEN)')
  .option('--json', 'print JSON')
  .action(async (opts) => {
    const { statusCommand } = await import('./status.js');
    process.exitCode = await statusCommand(opts);
  });

program
  .command('judge')
  .description('grade a file, or a whole class (a folder with one folder per student, or a zip of one), on a problem')
  .argument('<problem>', 'a problem folder or zip (Kattis layout or NAME.in/NAME.out), or the id of one the gateway has')
  .argument('<submissions>', 'a source file, a folder of students, or a zip of one')
  .option('--gateway <urls>', 'gateway URL(s), comma-separated or the option repeated, tried in order', joinUrls)
  .option('--token <token>', 'bearer token (default $CODEARENA_TOKEN)')
  .option('--lang <language>', 'the language of every submission (default: from the file extensions)')
  .option('--csv <file>', 'write one row per student, one column per test, to this CSV file')
  .option('--json', 'print the batch result as JSON instead of a table')
  .option('--timeout <seconds>', 'give up waiting after this long (default 3600)')
  .action(async (problemArg: string, target: string, opts) => {
    const { judgeCommand } = await import('./judge.js');
    process.exitCode = await judgeCommand(problemArg, target, opts);
  });

const problem = program.command('problem').description('problems for judge mode');
problem
  .command('check')
  .description('validate a problem folder or zip (or a folder of them): one line per problem found')
  .argument('<problem>', 'a Kattis package, a folder of NAME.in/NAME.out pairs, a zip of either, or a folder of those')
  .action(async (target: string) => {
    const { problemCheckCommand } = await import('./problem.js');
    process.exitCode = problemCheckCommand(target);
  });

program
  .command('up')
  .description('start a whole local cluster on this machine (Gateway, 2 Monitors, 2 Assigners, a Worker host, an Empty node)')
  .option('--workers <n>', 'Worker processes (default: one per core)')
  .option('--port <port>', 'the Gateway HTTP port', '8080')
  .option('--standby-port <port>', 'where the standby Gateway serves after a takeover (default: --port + 1)')
  .option('--base-port <port>', 'first internal port (the nodes use 7 from here, Workers +100)', '7470')
  .option('--auth', 'require a bearer token (one is generated and printed)')
  .option('--queue-max <n>', 'runs each Assigner may hold waiting for a Worker (default 256)')
  .option('--slots <n>', 'concurrent runs per Worker process (default 1: one run per core keeps timings fair)')
  .action(async (opts) => {
    const { upCommand } = await import('./up.js');
    process.exitCode = await upCommand(opts);
  });

program
  .command('init')
  .description('write a commented example lab config with a fresh cluster secret')
  .option('--out <file>', 'where to write it', 'lab.yaml')
  .option('--force', 'overwrite an existing file')
  .action(async (opts: { out: string; force?: boolean }) => {
    const { writeExampleConfig } = await import('../config/index.js');
    writeExampleConfig(opts.out, { force: opts.force === true });
    process.stdout.write(`wrote ${opts.out} (mode 600: it holds the cluster secret)\n`);
  });

program
  .command('node')
  .description("run this lab PC's node agent")
  .requiredOption('--config <file>', 'the lab config (YAML or JSON)')
  .option('--name <name>', "this node's name in the config (default: the host name)")
  .option('--state-dir <dir>', 'where protocol state survives restarts')
  .action(async (opts: { config: string; name?: string; stateDir?: string }) => {
    const { runNodeCommand } = await import('./node.js');
    await runNodeCommand(opts);
  });

program
  .command('worker-proc', { hidden: true })
  .description('one Worker process (started by a Worker host node agent)')
  .option('--config <file>', 'the lab config (YAML or JSON), loaded and checked here')
  .option('--config-stdin', 'the lab config as its host checked it: one line of JSON on stdin (what a Worker host sends)')
  .requiredOption('--host <name>')
  .requiredOption('--index <n>')
  .requiredOption('--state-dir <dir>')
  .action(async (opts: { config?: string; configStdin?: boolean; host: string; index: string; stateDir: string }) => {
    if ((opts.config === undefined) === (opts.configStdin !== true)) throw new Error('worker-proc needs exactly one of --config <file> and --config-stdin');
    let stdinEnded = false;
    process.stdin.once('end', () => (stdinEnded = true));
    const config = opts.config !== undefined ? (await import('../config/index.js')).loadConfig(opts.config) : await readConfigLine();
    const { runWorkerProcess } = await import('../worker/process.js');
    const w = await runWorkerProcess({ config, host: opts.host, index: Number(opts.index), stateDir: opts.stateDir });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
      // The host holds the other end of stdin: end of file means it died.
      if (stdinEnded) resolve();
      process.stdin.once('end', () => resolve());
      process.stdin.once('close', () => resolve());
      process.stdin.resume();
    });
    await w.stop();
    process.exit(0);
  });

/** The config a Worker host writes on stdin: its first line, checked where a Worker reads it. */
async function readConfigLine(): Promise<import('../config/schema.js').LabConfig> {
  const { WORKER_CONFIG_BYTES_MAX, workerConfigOf } = await import('../worker/worker-config.js');
  // Not `for await`: leaving that loop would destroy stdin, whose end must still mean "host died".
  const line = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null, text = ''): void => {
      process.stdin.off('data', onData).off('end', onEnd);
      process.stdin.pause();
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      const end = chunk.indexOf(0x0a);
      parts.push(end >= 0 ? chunk.subarray(0, end) : chunk);
      size += end >= 0 ? end : chunk.length;
      if (size > WORKER_CONFIG_BYTES_MAX) done(new Error(`the config on stdin is over ${WORKER_CONFIG_BYTES_MAX} bytes`));
      else if (end >= 0) done(null, Buffer.concat(parts).toString('utf8'));
    };
    const onEnd = (): void => done(new Error('stdin ended before the config line: the Worker host died or sent none'));
    process.stdin.on('data', onData).once('end', onEnd);
  });
  return workerConfigOf(line);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  exitOnError(err);
}
