/**
 * A private PKI for tests, made with the openssl CLI: a CA, and server or client certificates it
 * signs. Used for moto_server over HTTPS (the Secret/Top Secret regions' private CAs) and for the
 * SCAP portal's mutual TLS, and for the control plane's own gRPC and WebSocket TLS. EC P-256 keys keep
 * generation fast.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateAuthority {
  readonly name: string;
  readonly certPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA certificate valid for two days, written under `dir`. */
export function createCa(dir: string, name: string): CertificateAuthority {
  const keyFile = join(dir, `${name}.ca.key`);
  const certFile = join(dir, `${name}.ca.crt`);
  openssl(['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { name, certPem: readFileSync(certFile, 'utf8'), certFile, keyFile };
}

/**
 * A leaf certificate signed by `ca`: `server` for 127.0.0.1/localhost, `client` for mutual TLS.
 */
export function issueCertificate(dir: string, ca: CertificateAuthority, name: string, usage: 'server' | 'client'): IssuedCertificate {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(
    extFile,
    usage === 'server'
      ? 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
      : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  openssl(['req', '-new', ...KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extFile]);
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

export interface TestCa {
  dir: string;
  caCert: string;
  caCertFile: string;
  /** Issues a server certificate for 127.0.0.1 / localhost signed by this CA. */
  issueServer(name: string): Promise<{ certFile: string; keyFile: string; cert: string }>;
}

/** A private CA in a fresh temporary directory, for one test run: nothing is committed, nothing is reused. */
export async function createTestCa(label = 'attache-test'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'attache-ca-'));
  const ca = createCa(dir, `${label}-ca`);
  return {
    dir,
    caCertFile: ca.certFile,
    caCert: ca.certPem,
    async issueServer(name: string) {
      const issued = issueCertificate(dir, ca, name, 'server');
      return { certFile: issued.certFile, keyFile: issued.keyFile, cert: issued.certPem };
    },
  };
}
