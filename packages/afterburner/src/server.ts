// The long-lived helper behind the native `as` client: one Node process that plans assembler runs
// for many short-lived clients over a Unix socket, so a build pays Node's start-up once instead of
// once per object. The client runs the real assembler itself (its diagnostics go straight to the
// terminal); the server only reads, rewrites and writes files.
//
// Wire format, both ways: frames of a u32 little-endian length and a payload of NUL-terminated
// `key=value` items. Request: `v=1`, `cwd=`, `arg=` (in order), `env=KEY=VALUE`, `self=`. Replies:
// either `need-stdin=<file>` (the client saves its standard input there and sends `stdin-done=1`) or
// the plan: `print=`, `exit=`, `exec=`, `arg=`..., `stdin=`, `rename=`+`to=`, `unlink=`.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { needsStdin, planAssembly, runPlan, type AsPlan } from './assemble.js';

export const PROTOCOL_VERSION = '1';

export function encodeFrame(items: readonly [string, string][]): Buffer {
  const body = Buffer.from(items.map(([k, v]) => `${k}=${v}\0`).join(''), 'latin1');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

export function decodeItems(body: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 0) continue;
    const item = body.toString('latin1', start, i);
    const eq = item.indexOf('=');
    out.push(eq < 0 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)]);
    start = i + 1;
  }
  return out;
}

/** Reads frames from a socket, one callback per complete frame. */
function frameReader(onFrame: (items: [string, string][]) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const len = pending.readUInt32LE(0);
      if (pending.length < 4 + len) break;
      const body = pending.subarray(4, 4 + len);
      pending = pending.subarray(4 + len);
      onFrame(decodeItems(body));
    }
  };
}

function planItems(plan: AsPlan): [string, string][] {
  const items: [string, string][] = [];
  if (plan.message) items.push(['print', plan.message]);
  if (plan.exitCode !== null) {
    items.push(['exit', String(plan.exitCode)]);
    return items;
  }
  items.push(['exec', plan.assembler]);
  for (const a of plan.args) items.push(['arg', a]);
  if (plan.stdinFrom !== null) items.push(['stdin', plan.stdinFrom]);
  if (plan.rename) items.push(['rename', plan.rename[0]], ['to', plan.rename[1]]);
  for (const f of plan.unlink) items.push(['unlink', f]);
  return items;
}

interface Job {
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  self: string[];
  stdinFile?: string;
}

/** What the server did, written to its log when it exits (the build's cost of the hook, measured). */
export const serverStats = { requests: 0, rewritten: 0, sites: 0, planningMs: 0 };

/** Serves one request; returns the reply items. Errors become a message and exit code 70. */
function serve(job: Job): [string, string][] {
  const t0 = performance.now();
  try {
    const plan = planAssembly({ argv: job.argv, cwd: job.cwd, env: job.env, selfPaths: job.self, stdinFile: job.stdinFile });
    serverStats.requests++;
    if (plan.sites.length > 0) serverStats.rewritten++;
    serverStats.sites += plan.sites.length;
    serverStats.planningMs += performance.now() - t0;
    if (plan.fixDependencies !== null && plan.exitCode === null) {
      // The client cannot edit dependency files: run the assembler here and send back what it said.
      const r = runPlan(plan, job.cwd, job.env, true);
      const items: [string, string][] = [];
      if (r.stdout && r.stdout.length) items.push(['out', r.stdout.toString('latin1')]);
      if (r.stderr && r.stderr.length) items.push(['print', r.stderr.toString('latin1')]);
      items.push(['exit', String(r.code)]);
      return items;
    }
    return planItems(plan);
  } catch (err) {
    return [['print', `previrt: internal error in the as server: ${err instanceof Error ? err.message : String(err)}\n`], ['exit', '70']];
  }
}

export interface ServerOptions {
  socketPath: string;
  /** Exit after this long without a request. */
  idleMs: number;
}

/** Listens on `socketPath` (replacing a stale socket atomically) until idle. */
export function startServer(opts: ServerOptions): Promise<net.Server> {
  const server = net.createServer((sock) => {
    busy++;
    let job: Job | null = null;
    const finish = () => { busy--; touch(); };
    sock.on('error', () => { /* the client went away */ });
    sock.on('close', finish);
    sock.on('data', frameReader((items) => {
      if (job === null) {
        job = { cwd: '/', argv: [], env: {}, self: [] };
        for (const [k, v] of items) {
          if (k === 'cwd') job.cwd = v;
          else if (k === 'arg') job.argv.push(v);
          else if (k === 'self') job.self.push(v);
          else if (k === 'env') {
            const eq = v.indexOf('=');
            if (eq > 0) job.env[v.slice(0, eq)] = v.slice(eq + 1);
          }
        }
        if (needsStdin(job.argv)) {
          job.stdinFile = path.join(job.env.TMPDIR || os.tmpdir(), `previrt-stdin-${process.pid}-${randomBytes(6).toString('hex')}.s`);
          sock.write(encodeFrame([['need-stdin', job.stdinFile]]));
          return;
        }
        sock.end(encodeFrame(serve(job)));
        return;
      }
      // stdin-done
      const reply = serve(job);
      reply.push(['unlink', job.stdinFile!]);
      sock.end(encodeFrame(reply));
    }));
  });
  let busy = 0;
  let timer: NodeJS.Timeout | null = null;
  const touch = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { if (busy === 0) { server.close(); try { fs.unlinkSync(opts.socketPath); } catch { /* gone */ } } else touch(); }, opts.idleMs);
  };
  return new Promise((resolve, reject) => {
    const tmp = `${opts.socketPath}.${process.pid}`;
    try { fs.unlinkSync(tmp); } catch { /* none */ }
    server.once('error', reject);
    server.listen(tmp, () => {
      fs.renameSync(tmp, opts.socketPath);
      touch();
      resolve(server);
    });
  });
}
