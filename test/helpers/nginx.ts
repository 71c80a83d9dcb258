import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolPath } from './tools.js';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts Debian's nginx in the foreground with a config body (inside `http {}`) of ours. */
export async function startNginx(dir: string, port: number, httpBody: string, workerConnections = 256): Promise<{ stop(): Promise<void>; errorLog: string }> {
  const errorLog = join(dir, 'nginx-error.log');
  const conf = `
daemon off;
master_process off;
worker_processes 1;
error_log ${errorLog} info;
pid ${join(dir, 'nginx.pid')};
worker_rlimit_nofile ${workerConnections * 2};
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${httpBody}
}`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child: ChildProcess = spawn(toolPath('nginx'), ['-c', file, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/__nginx_up`).catch(() => undefined);
      if (res) break;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  return {
    errorLog,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
