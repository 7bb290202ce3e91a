import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Cookie, CookieJar } from 'tough-cookie';
import type { ApiResponse } from './api.js';

let nextAddress = 10;

/**
 * A client that behaves like the console in a browser: it keeps cookies in a real cookie jar
 * (tough-cookie: domain, path, expiry and Secure rules), sends them back, and echoes the CSRF
 * cookie in X-CSRF-Token on state-changing requests unless told not to. Each browser connects from
 * its own loopback address (127.0.0.N), so per-address sign-in limits of one test do not spill
 * into another.
 */
export class Browser {
  readonly jar = new CookieJar();
  /** Raw Set-Cookie headers of the last response, for attribute checks. */
  lastSetCookies: Cookie[] = [];

  constructor(
    readonly baseUrl: string,
    readonly localAddress = `127.0.0.${nextAddress++}`,
  ) {}

  async cookie(name: string): Promise<string | undefined> {
    return (await this.jar.getCookies(this.baseUrl)).find((c) => c.key === name)?.value;
  }

  async request<T = any>(method: string, path: string, body?: unknown, opts: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<ApiResponse<T> & { headers: IncomingHttpHeaders }> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const cookies = await this.jar.getCookieString(url);
    if (cookies) headers['cookie'] = cookies;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const csrf = await this.cookie('attache_csrf');
    if (opts.csrf !== false && csrf && !['GET', 'HEAD'].includes(method)) headers['x-csrf-token'] = csrf;
    const res = await send(url, method, headers, body === undefined ? undefined : JSON.stringify(body), this.localAddress);
    this.lastSetCookies = [];
    for (const raw of res.headers['set-cookie'] ?? []) {
      const parsed = Cookie.parse(raw);
      if (parsed) this.lastSetCookies.push(parsed);
      await this.jar.setCookie(raw, url);
    }
    const text = res.text;
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body: unknown = {}, opts: { csrf?: boolean } = {}) {
    return this.request<T>('POST', path, body, opts);
  }
  patch<T = any>(path: string, body: unknown, opts: { csrf?: boolean } = {}) {
    return this.request<T>('PATCH', path, body, opts);
  }
  delete<T = any>(path: string, opts: { csrf?: boolean } = {}) {
    return this.request<T>('DELETE', path, undefined, opts);
  }

  /**
   * One navigation to an absolute URL, as a browser's address bar or a form post would do it:
   * cookies from the jar for that URL, no redirect followed (the caller reads `location`).
   */
  async navigate(url: string, form?: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; location: string | null }> {
    const headers: Record<string, string> = {};
    const cookies = await this.jar.getCookieString(url);
    if (cookies) headers['cookie'] = cookies;
    const body = form ? new URLSearchParams(form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await send(url, form ? 'POST' : 'GET', headers, body, this.localAddress);
    this.lastSetCookies = [];
    for (const raw of res.headers['set-cookie'] ?? []) {
      const parsed = Cookie.parse(raw);
      if (parsed) this.lastSetCookies.push(parsed);
      await this.jar.setCookie(raw, url);
    }
    const location = typeof res.headers.location === 'string' ? new URL(res.headers.location, url).toString() : null;
    return { ...res, location };
  }

  /** Follows redirects from `url` until an answer that is not one, or until the next URL matches `stopBefore`. */
  async follow(url: string, stopBefore: (next: string) => boolean = () => false, maxHops = 20): Promise<{ url: string; status: number; text: string }> {
    let current = url;
    for (let hop = 0; hop < maxHops; hop++) {
      const res = await this.navigate(current);
      if (res.status < 300 || res.status >= 400 || !res.location) return { url: current, status: res.status, text: res.text };
      if (stopBefore(res.location)) return { url: res.location, status: res.status, text: res.text };
      current = res.location;
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }

  signIn(email: string, password: string, tenant?: string) {
    return this.post('/v1/session', { email, password, ...(tenant ? { tenant } : {}) });
  }
}

function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, localAddress: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
