// Builds opa-envoy-plugin (OPA with the Envoy ext_authz gRPC server) with Go from the
// module proxy, once, into bench/peers/opa/bin/ (git-ignored; never committed).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OPA_ENVOY_MODULE = 'github.com/open-policy-agent/opa-envoy-plugin';
/**
 * The newest release this machine's module proxy could verify against sum.golang.org
 * (v1.12.0-envoy and v1.10.0-envoy have no checksum-database entry through the proxy here).
 */
export const OPA_ENVOY_VERSION = 'v1.4.2-envoy';

const BIN_DIR = resolve(fileURLToPath(import.meta.url), '../../../../../bench/peers/opa/bin');

function findGo(): string | undefined {
  if (process.env.GO !== undefined) return existsSync(process.env.GO) ? process.env.GO : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/go/bin'];
  return dirs.map((d) => join(d, 'go')).find((p) => existsSync(p));
}

/**
 * The plugin's path, building it if needed; undefined (with the reason) when Go is absent
 * or the build fails. OPA_ENVOY_PLUGIN=/path/to/binary skips the build; GO=/path/to/go picks Go.
 */
export function opaEnvoyPlugin(log: (line: string) => void): string | undefined {
  if (process.env.OPA_ENVOY_PLUGIN) return process.env.OPA_ENVOY_PLUGIN;
  const bin = join(BIN_DIR, 'opa-envoy-plugin');
  if (existsSync(bin)) return bin;
  const go = findGo();
  if (!go) {
    log('bench: Go not found (PATH, /usr/local/go/bin): skipping (c) opa-envoy-plugin; install Go to compare with OPA-Envoy');
    return undefined;
  }
  mkdirSync(BIN_DIR, { recursive: true });
  const env = { ...process.env, GOBIN: BIN_DIR, GOFLAGS: '-mod=mod' };
  log(`bench: building ${OPA_ENVOY_MODULE}@${OPA_ENVOY_VERSION} with ${go} (a few minutes, once)`);
  // The usual way first.
  let r = spawnSync(go, ['install', `${OPA_ENVOY_MODULE}/cmd/opa-envoy-plugin@${OPA_ENVOY_VERSION}`], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    // `go install pkg@version` also asks the proxy for the module's version list (to look
    // for deprecation notices); where the proxy refuses that list, download the module
    // (verified against sum.golang.org) and install from inside it: same source, its own
    // go.mod and go.sum.
    const dl = spawnSync(go, ['mod', 'download', '-json', `${OPA_ENVOY_MODULE}@${OPA_ENVOY_VERSION}`], { env, encoding: 'utf8', cwd: tmpdir() });
    const dir = dl.status === 0 ? (JSON.parse(dl.stdout) as { Dir?: string }).Dir : undefined;
    if (!dir) {
      log(`bench: could not download ${OPA_ENVOY_MODULE}: ${(r.stderr + dl.stderr).trim().split('\n').pop()}; skipping (c)`);
      return undefined;
    }
    const src = mkdtempSync(join(tmpdir(), 'opa-envoy-src-'));
    cpSync(dir, src, { recursive: true });
    spawnSync('chmod', ['-R', 'u+w', src]);
    r = spawnSync(go, ['install', './cmd/opa-envoy-plugin'], { env, encoding: 'utf8', cwd: src });
    rmSync(src, { recursive: true, force: true });
  }
  if (r.status !== 0 || !existsSync(bin)) {
    log(`bench: building opa-envoy-plugin failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}; skipping (c)`);
    return undefined;
  }
  return bin;
}
