import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPath } from './tools.js';

export interface TestCerts {
  /** The test CA's certificate (PEM): trust it to verify `cert`. */
  readonly caFile: string;
  /** A leaf certificate signed by the CA, for `names` (DNS names and IP literals as SANs); good for servers and clients (mTLS). */
  readonly certFile: string;
  readonly keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync(toolPath('openssl'), args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/**
 * A throwaway CA and a server certificate for `names`, made with openssl in `dir` (P-256,
 * one day). Generated per test run: no key is ever committed.
 */
export function makeTestCerts(dir: string, names: readonly string[] = ['localhost', '127.0.0.1']): TestCerts {
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Verdict test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0] ?? 'localhost'}`], dir);
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', ext], dir);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}
