import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../generated/api-schema.js';

export type Schemas = components['schemas'];
export type Account = Schemas['AwsAccount'];
export type Task = Schemas['Task'];
export type Delegate = Schemas['Delegate'];
export type DelegateToken = Schemas['DelegateToken'];

/** The session's CSRF cookie (readable by scripts on purpose), echoed on every state change. */
const CSRF_COOKIE = 'attache_csrf';
const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function csrfToken(): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

const csrf: Middleware = {
  onRequest({ request }) {
    const token = csrfToken();
    if (!SAFE_METHODS.has(request.method) && token) request.headers.set(CSRF_HEADER, token);
    return request;
  },
};

/** The typed client of the public API (types generated from its OpenAPI document); the session cookie rides along. */
export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(csrf);

/** An API error as the API states it: a stable code and a sentence a person can act on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer; throws ApiError with the API's code and message otherwise. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const body = (error as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
  throw new ApiError(response.status, body?.code ?? `HTTP_${response.status}`, body?.message ?? `The control plane answered ${response.status}.`, body?.details ?? {});
}
