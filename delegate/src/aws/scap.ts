import { request } from 'node:https';
import { TaskFailure } from '../executors/task-failure.js';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import { resolveSecretRef, type RegisterSecret } from '../secrets/resolve.js';
import type { aws } from '@attache/proto';
import type { AwsCredentials } from './credentials.js';
import { createHttpsAgent, ProxyTunnelError } from './https-agent.js';
import type { Partition } from './partitions.js';

/**
 * Temporary keys from an SC2S/C2S access portal (SCAP/CAP) over mutual TLS. The two portals
 * differ only in their query: SC2S (aws-iso-b) takes agency, accountName and roleName; C2S
 * (aws-iso) takes agency, mission and role. Both answer `{"Credentials": {AccessKeyId,
 * SecretAccessKey, SessionToken, Expiration}}`, and some failures as an HTML page with status 200.
 */
export interface ScapContext {
  readonly partition: Partition;
  /** `auth.portalUrl` as the delegate's endpoint policy let it through; absent when the account names none. */
  readonly portalUrl: PermittedUrl | undefined;
  readonly caBundle?: string | undefined;
  readonly signal: AbortSignal;
}

/** Longest portal message echoed back: enough for a sentence, not for a page. */
const MAX_MESSAGE = 300;
const PORTAL_TIMEOUT_MS = 15_000;

export function scapRequestUrl(auth: aws.ScapAuth, portalUrl: PermittedUrl, partition: Partition): URL {
  const url = new URL(portalUrl);
  const query =
    partition === 'aws-iso'
      ? { agency: auth.agencyName, mission: auth.accountName, role: auth.roleName }
      : { agency: auth.agencyName, accountName: auth.accountName, roleName: auth.roleName };
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

export async function scapCredentials(auth: aws.ScapAuth, ctx: ScapContext, registerSecret: RegisterSecret): Promise<AwsCredentials> {
  const portalUrl = ctx.portalUrl;
  if (portalUrl === undefined || auth.userCertificate === '' || auth.userKeyRef === '') {
    throw new TaskFailure('INVALID_PAYLOAD', 'The SCAP account lacks its portal URL, user certificate or user key reference.');
  }
  const key = await resolveSecretRef(auth.userKeyRef, registerSecret, 'userKey');
  const url = scapRequestUrl(auth, portalUrl, ctx.partition);
  const portal = `${url.origin}${url.pathname}`;
  const denied = (message: string, details: Record<string, unknown> = {}, cause?: unknown) =>
    new TaskFailure('SCAP_DENIED', message, { step: 'scap:GetTemporaryCredentials', endpoint: portal, role: auth.roleName, ...details }, { cause });

  const agent = createHttpsAgent({ caBundle: ctx.caBundle, cert: auth.userCertificate, key });
  let status: number;
  let contentType: string;
  let body: string;
  try {
    ({ status, contentType, body } = await get(url, agent, AbortSignal.any([ctx.signal, AbortSignal.timeout(PORTAL_TIMEOUT_MS)])));
  } catch (error) {
    if (ctx.signal.aborted || error instanceof ProxyTunnelError) throw error;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(code)) throw error;
    const untrusted = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME/.test(code);
    throw denied(
      untrusted
        ? `The delegate does not trust the SCAP portal's certificate at ${portal} (${code}); set the account's caBundle to the CA that signed it.`
        : `The SCAP portal at ${portal} refused the mutual TLS handshake (${typeof code === 'string' ? code : (error as Error).message}); check that the user certificate is issued by a CA the portal accepts, is current, and matches the user key.`,
      typeof code === 'string' ? { errorCode: code } : {},
      error,
    );
  } finally {
    agent.destroy();
  }

  const html = /html/i.test(contentType) || /^\s*</.test(body);
  if (status < 200 || status > 299 || html) {
    throw denied(`The SCAP portal at ${portal} refused temporary credentials for role ${auth.roleName} (HTTP ${status}): ${portalMessage(body, html)}`, { httpStatusCode: status });
  }
  let credentials: { AccessKeyId?: unknown; SecretAccessKey?: unknown; SessionToken?: unknown; Expiration?: unknown } | undefined;
  try {
    credentials = (JSON.parse(body) as { Credentials?: typeof credentials }).Credentials;
  } catch (error) {
    throw denied(`The SCAP portal at ${portal} answered something other than JSON: ${portalMessage(body, false)}`, { httpStatusCode: status }, error);
  }
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = credentials ?? {};
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string' || AccessKeyId === '' || SecretAccessKey === '') {
    throw denied(`The SCAP portal at ${portal} answered without Credentials.AccessKeyId, SecretAccessKey and SessionToken for role ${auth.roleName}.`, { httpStatusCode: status });
  }
  registerSecret(SecretAccessKey);
  if (SessionToken !== '') registerSecret(SessionToken);
  const expiration = typeof Expiration === 'string' || typeof Expiration === 'number' ? new Date(Expiration) : undefined;
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    ...(SessionToken !== '' ? { sessionToken: SessionToken } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}

function get(url: URL, agent: ReturnType<typeof createHttpsAgent>, signal: AbortSignal): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, signal, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        // A portal's answer is a few hundred bytes; stop reading a runaway page.
        size += chunk.length;
        if (size <= 1_048_576) chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The portal's own words: an HTML page's title and text, or a JSON message, cut to a sentence. */
function portalMessage(body: string, html: boolean): string {
  let text = body;
  if (html) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1]?.trim();
    const inner = body
      .replace(/<(script|style|title)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
    text = [title, inner].filter((part) => part && part.trim() !== '').join(': ');
  } else {
    try {
      const parsed = JSON.parse(body) as { message?: unknown; Message?: unknown; error?: unknown };
      const message = parsed.message ?? parsed.Message ?? parsed.error;
      if (typeof message === 'string') text = message;
    } catch {
      // Not JSON: the raw text is the message.
    }
  }
  const collapsed = text.replace(/\s+/g, ' ').trim();
  if (collapsed === '') return 'no message';
  return collapsed.length > MAX_MESSAGE ? `${collapsed.slice(0, MAX_MESSAGE)}…` : collapsed;
}
