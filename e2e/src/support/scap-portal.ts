import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { once } from 'node:events';
import { Agent, createServer, type Server } from 'node:https';
import type { MotoIdentities } from './moto.js';
import type { IssuedCertificate } from './pki.js';

/** Temporary keys as an SCAP / CAP portal hands them out. */
export interface PortalKeys {
  AccessKeyId?: string;
  SecretAccessKey?: string;
  SessionToken?: string;
  Expiration?: Date;
}

export interface ScapPortal {
  /** https://127.0.0.1:port, to which a path of one of the portal styles is appended. */
  origin: string;
  /** The SC2S style: ?agency&accountName&roleName. */
  sc2sUrl: string;
  /** The C2S (Top Secret) style: ?agency&mission&role. */
  c2sUrl: string;
  /** Answers a login page with status 200, as portals do for some refusals. */
  htmlUrl: string;
  /** The query of every request, in order. */
  queries: Record<string, string>[];
  close(): Promise<void>;
}

/**
 * An SCAP / CAP portal over mutual TLS: it accepts only client certificates of `caPem`, answers
 * 403 for the role `PROJECT_Unknown`, and otherwise the temporary keys `issue` obtains for the
 * portal style (`c2s` true for the Top Secret style).
 */
export async function startScapPortal(options: { server: IssuedCertificate; caPem: string; issue: (c2s: boolean) => Promise<PortalKeys> }): Promise<ScapPortal> {
  const queries: Record<string, string>[] = [];
  const server: Server = createServer({ key: options.server.keyPem, cert: options.server.certPem, ca: options.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://portal');
    queries.push(Object.fromEntries(url.searchParams));
    const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (url.pathname.startsWith('/html/')) {
      send(200, 'text/html', '<html><head><title>Access Denied</title></head><body><p>Your certificate is not authorized for agency NAVY.</p></body></html>');
      return;
    }
    const c2s = url.pathname === '/c2s/api/v1/credentials';
    const role = url.searchParams.get(c2s ? 'role' : 'roleName');
    if (role === 'PROJECT_Unknown') {
      send(403, 'application/json', JSON.stringify({ message: `Role ${role} is not provisioned for this account.` }));
      return;
    }
    options.issue(c2s).then(
      (c) => send(200, 'application/json', JSON.stringify({ Credentials: { AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: c.Expiration?.toISOString() } })),
      (error: Error) => send(500, 'application/json', JSON.stringify({ message: error.message })),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    origin,
    sc2sUrl: `${origin}/sc2s/getTemporaryCredentials`,
    c2sUrl: `${origin}/c2s/api/v1/credentials`,
    htmlUrl: `${origin}/html/getTemporaryCredentials`,
    queries,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Temporary keys of `ids.role` from a moto over HTTPS, as a portal or a pod identity agent hands them out. */
export async function roleKeys(ids: MotoIdentities, moto: { endpoint: string; caPem: string }): Promise<PortalKeys> {
  const sts = new STSClient({
    region: ids.region,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: ids.roleSourceUser.accessKeyId, secretAccessKey: ids.roleSourceUser.secretAccessKey },
    requestHandler: { httpsAgent: new Agent({ ca: moto.caPem }) },
  });
  try {
    const answer = await sts.send(new AssumeRoleCommand({ RoleArn: ids.role.roleArn, RoleSessionName: 'issued', ExternalId: ids.role.externalId }));
    return answer.Credentials!;
  } finally {
    sts.destroy();
  }
}
