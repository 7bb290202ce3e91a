import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  caCert: string;
  caCertFile: string;
  /** Issues a server certificate for 127.0.0.1 / localhost signed by this CA. */
  issueServer(name: string): Promise<{ certFile: string; keyFile: string; cert: string }>;
}

/** A private CA made with openssl for one test run: nothing is committed, nothing is reused. */
export async function createTestCa(label = 'attache-test'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'attache-ca-'));
  const caKey = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCertFile, '-days', '2', '-subj', `/CN=${label} CA`]);
  return {
    dir,
    caCertFile,
    caCert: await readFile(caCertFile, 'utf8'),
    async issueServer(name: string) {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
      await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCertFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
      return { certFile, keyFile, cert: await readFile(certFile, 'utf8') };
    },
  };
}
