// The floor of an idle Worker process's wake-up pattern, without any CodeArena code: what this
// machine charges a Node process for waking the way DESIGN's Worker must (footprint.mjs runs it).
//
//   node floor-shape.mjs sink PORT_FILE     a stand-in Monitor: answers every other message (the acks)
//   node floor-shape.mjs worker PORT        a stand-in Worker process: a worker thread (the heartbeat
//                                           thread) sends a 260-byte heartbeat over TCP every INTERVAL_MS
//                                           and, with every other one, a 10-byte ping over a Unix socket
//                                           to the main thread (the communicator), which answers in
//                                           shared memory — the same wake-ups as the real one, none of its work.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 500);
const [mode, arg] = process.argv.slice(2);

if (mode === 'sink') {
  const server = net.createServer((s) => {
    let n = 0;
    s.on('data', () => {
      if (n++ % 2 === 0) s.write(Buffer.alloc(180, 1));
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => writeFileSync(arg, String(server.address().port)));
} else if (mode === 'worker' && isMainThread) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'floor-shape-'));
  const sock = path.join(dir, 'ping.sock');
  const answers = new Int32Array(new SharedArrayBuffer(8));
  net
    .createServer((s) => s.on('data', (d) => Atomics.store(answers, 0, Atomics.load(answers, 0) + d.length)))
    .listen(sock, () => {
      const t = new Worker(new URL(import.meta.url), { argv: ['worker', arg], workerData: { sock, answers: answers.buffer, port: Number(arg) } });
      t.on('error', (e) => {
        console.error(e);
        process.exit(1);
      });
    });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'worker') {
  const { sock, answers, port } = workerData;
  const seen = new Int32Array(answers);
  const ping = net.connect(sock);
  const link = net.connect(port, '127.0.0.1');
  link.on('data', () => {});
  const heartbeat = Buffer.alloc(260, 2);
  let beat = 0;
  setInterval(() => {
    Atomics.load(seen, 0); // the answer to the last ping, read as the heartbeat leaves
    link.write(heartbeat);
    if (beat++ % 2 === 0) ping.write('ping 1 1\n');
  }, INTERVAL_MS);
  parentPort?.unref();
} else {
  console.error('usage: floor-shape.mjs sink PORT_FILE | worker PORT');
  process.exit(2);
}
