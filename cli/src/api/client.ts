import { ApiError, CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export type Query = Record<string, string | number | undefined>;

/** The largest page the API serves. */
const LIST_PAGE_SIZE = 500;

export interface ApiAnswer<T> {
  readonly status: number;
  readonly body: T;
  /** The body as the API sent it, for output that must be exactly the API's. */
  readonly text: string;
  readonly contentType: string;
}

/**
 * The public REST API, and nothing else: the CLI is a client like any other. Every non-2xx answer
 * becomes an ApiError carrying the API's own code and sentence.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    /** The bearer credential (API key or session token); null for the sign-in routes that take none. */
    private readonly credential: string | null,
  ) {}

  private authorization(): Record<string, string> {
    return this.credential === null ? {} : { authorization: `Bearer ${this.credential}` };
  }

  async request<T = any>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<ApiAnswer<T>> {
    // Relative to the base, so a control plane behind a path prefix (https://host/attache) keeps it.
    const url = new URL(path.replace(/^\//, ''), this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...this.authorization(), accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        CliErrorCode.UNREACHABLE,
        `Cannot reach the control plane at ${url.origin} (${cause?.code ?? cause?.message ?? (err as Error).message}); check the URL (attache context current) and that it is running.`,
        ExitCode.FAILURE,
        { url: url.origin },
        { cause: err },
      );
    }
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    let body: any = text;
    if (contentType.includes('json') && text !== '') {
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new CliError(CliErrorCode.BAD_RESPONSE, `${method} ${url.pathname} answered ${res.status} with malformed JSON.`, ExitCode.FAILURE, {}, { cause: err });
      }
    }
    if (!res.ok) {
      const error = body?.error;
      if (error && typeof error.code === 'string') throw new ApiError(res.status, error.code, String(error.message ?? ''), error.details ?? {});
      throw new ApiError(res.status, `HTTP_${res.status}`, `${method} ${url.pathname} answered ${res.status} ${res.statusText}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}.`);
    }
    return { status: res.status, body: body as T, text, contentType };
  }

  /**
   * Every item of a list route, page after page (the API answers at most 500 a page, 50 unless
   * asked): a lookup by name must not miss what lies past the first page.
   */
  async list<T = any>(path: string, query: Query = {}): Promise<{ items: T[] }> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const { body } = await this.get<{ items: T[]; nextCursor?: string | null }>(path, { ...query, limit: LIST_PAGE_SIZE, cursor });
      items.push(...body.items);
      cursor = body.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return { items };
  }

  /**
   * Opens a streaming GET (Server-Sent Events): the response as it arrives, or null when the
   * control plane refuses the stream (an older one without the route, a cap, a proxy); callers
   * then fall back to requests.
   */
  async openStream(path: string, query: Query, signal?: AbortSignal): Promise<Response | null> {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    try {
      const res = await fetch(url, { headers: { ...this.authorization(), accept: 'text/event-stream' }, ...(signal ? { signal } : {}) });
      if (res.ok && (res.headers.get('content-type') ?? '').startsWith('text/event-stream') && res.body) return res;
      await res.body?.cancel();
      return null;
    } catch {
      return null;
    }
  }

  get<T = any>(path: string, query?: Query): Promise<ApiAnswer<T>> {
    return this.request<T>('GET', path, query ? { query } : {});
  }

  post<T = any>(path: string, body?: unknown, query?: Query): Promise<ApiAnswer<T>> {
    return this.request<T>('POST', path, { ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
  }

  put<T = any>(path: string, body: unknown): Promise<ApiAnswer<T>> {
    return this.request<T>('PUT', path, { body });
  }

  delete(path: string): Promise<ApiAnswer<unknown>> {
    return this.request('DELETE', path);
  }
}

/** Path segments are ids and names the user typed: never let one smuggle a `/` or `?`. */
export const seg = (value: string): string => encodeURIComponent(value);
