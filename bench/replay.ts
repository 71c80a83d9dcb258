// `npm run bench:replay [-- RECORDS]`: `verdict replay` throughput and memory on one core.
// A real trail is recorded first (10,000 decisions through Verdict's gRPC server against a
// 100-route policy, JWTs of 50 users), then its decision lines are repeated to RECORDS
// (default 1,000,000) in one file: replay does not check the chain, only the decisions.
// Then the replay CLI runs against a changed policy in a child process; its wall time and
// peak RSS are printed (RSS at 100,000 and at RECORDS shows whether memory stays flat).
import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { startTestApp } from '../test/helpers/app.js';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';
import { TestIssuer } from '../test/helpers/idp.js';
import { tempDir } from '../test/helpers/tmp.js';

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const ROUTES = 100;

function policy(groupOf: (i: number) => string[]): unknown {
  return {
    version: 1,
    routes: Array.from({ length: ROUTES }, (_, i) => ({
      id: `app-${i}`,
      match: { hosts: [`app-${i}.example.com`], path_prefix: '/' },
      allow: { or: [{ groups: { has_any: groupOf(i) } }, { email: { ends_with: '@admins.example.com' } }] },
      deny: { http_method: { in: ['DELETE'] } },
    })),
  };
}

async function main(): Promise<void> {
  const issuer = await TestIssuer.start(['ES256']);
  const t = await startTestApp(
    { 'p.json': policy((i) => [`team-${i % 10}`]) },
    { identity: { jwt: [{ issuer: issuer.issuer, jwks_uri: issuer.jwksUri, audiences: ['verdict'] }] }, audit: { sink: 'file', path: 'audit.jsonl', mode: 'async' } },
  );
  const tokens = await Promise.all(Array.from({ length: 50 }, (_, u) => issuer.token({ sub: `user-${u}`, email: `user-${u}@example.com`, groups: [`team-${u % 10}`] })));
  const client = authClient(t.app.grpcPort);
  const N = 10_000;
  for (let i = 0; i < N; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => {
        const k = i + j;
        // Odd requests carry the next team's user: denied now, allowed by the change.
        return client.check(envoyCheckRequest({ host: `app-${k % ROUTES}.example.com`, path: `/p/${k % 7}`, method: k % 13 === 0 ? 'DELETE' : 'GET', headers: { authorization: `Bearer ${tokens[(k + (k % 2)) % tokens.length]}` } }));
      }),
    );
  }
  client.close();
  await t.app.stop();
  await issuer.close();

  const decisions = readFileSync(t.auditPath, 'utf8').split('\n').filter((l) => l.includes('"event.action":"authorize"'));
  const work = tempDir('verdict-bench-replay-');
  const trail = join(work.dir, 'trail.jsonl');
  const out = createWriteStream(trail);
  for (let i = 0; i < RECORDS; i++) {
    if (!out.write(`${decisions[i % decisions.length]}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  // The change under review: every route also admits the next team.
  work.write('new/p.json', policy((i) => [`team-${i % 10}`, `team-${(i + 1) % 10}`]));

  const bin = join(process.cwd(), 'bin/verdict.js');
  process.stdout.write(`| records | wall s | CPU s (user+sys) | records per CPU s | peak RSS MB | flipped |\n| --- | --- | --- | --- | --- | --- |\n`);
  for (const n of [100_000, RECORDS]) {
    const input = n === RECORDS ? trail : join(work.dir, `head-${n}.jsonl`);
    if (n !== RECORDS) {
      const o = createWriteStream(input);
      for (let i = 0; i < n; i++) if (!o.write(`${decisions[i % decisions.length]}\n`)) await once(o, 'drain');
      o.end();
      await once(o, 'finish');
    }
    const started = process.hrtime.bigint();
    // /usr/bin/time reports the child's peak RSS; fall back to wall time only without it.
    const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', process.execPath, ...(process.env.REPLAY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.REPLAY_PROF}`] : []), bin, 'replay', '--policies', join(work.dir, 'new'), '--format', 'json', input], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.error) throw r.error;
    const [rssKb, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
    const cpu = user + sys;
    const flipped = (JSON.parse(r.stdout) as { flipped: number }).flipped;
    process.stdout.write(`| ${n.toLocaleString('en')} | ${secs.toFixed(1)} | ${cpu.toFixed(1)} | ${Math.round(n / cpu).toLocaleString('en')} | ${(rssKb / 1024).toFixed(0)} | ${flipped.toLocaleString('en')} |\n`);
  }
}

await main();
