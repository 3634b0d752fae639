// Entry point of the as server: `node server-main.js <socket> [idle-seconds]`. Started by the native
// client (detached, under a lock) when no server answers on the socket.
import fs from 'node:fs';
import { serverStats, startServer } from './server.js';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: server-main.js <socket> [idle-seconds]\n');
  process.exit(2);
}
const idleSeconds = Number(process.argv[3] ?? process.env.PREVIRT_SERVER_IDLE ?? 120);
startServer({ socketPath, idleMs: Math.max(1, idleSeconds) * 1000 }).then((server) => {
  // The pid file lets whoever started a build stop its server by id.
  const pidFile = `${socketPath}.pid`;
  // SIGTERM (e.g. from a build script that started it) stops it cleanly, with its statistics logged.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  server.on('close', () => {
    try { fs.unlinkSync(pidFile); } catch { /* gone */ }
    const s = serverStats;
    process.stderr.write(`${new Date().toISOString()} previrt as server ${process.pid}: ${s.requests} requests, ${s.rewritten} rewritten, ` +
      `${s.sites} sites, ${s.planningMs.toFixed(0)} ms planning (read, rewrite, write), ${(process.cpuUsage().user / 1000).toFixed(0)} ms CPU\n`);
  });
}).catch((err: unknown) => {
  process.stderr.write(`previrt as server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
