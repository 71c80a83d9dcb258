import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

export const BIN = join(process.cwd(), 'bin/verdict.js');

/** Runs the real CLI in a child process. */
export function verdict(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? process.cwd(), env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function verdictAsync(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? process.cwd(), env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Like `verdict`, without blocking this process (needed when this process serves a JWKS). */
export async function verdictAsyncResult(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = verdictAsync(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

/** `verdict serve --config config` in cwd, once it logs "verdict serving": the child and its gRPC port. */
export async function serveVerdict(config: string, cwd: string) {
  const child = verdictAsync(['serve', '--config', config], { cwd });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  while (!/verdict serving/.test(stderr)) {
    if (child.exitCode !== null) throw new Error(stderr);
    await once(child.stderr, 'data');
  }
  const line = JSON.parse(stderr.split('\n').find((l) => l.includes('verdict serving'))!) as { grpc: string };
  return { child, port: Number(String(line.grpc).split(':').pop()) };
}
