/**
 * A write collided with a uniqueness rule (tenant name, account name within a tenant, key or token
 * hash, or an id reused by the caller). Every Store backend maps its own unique-violation error to
 * this one, so the API can answer 409 without knowing which database it runs on.
 */
export class StoreConflictError extends Error {
  readonly code = 'CONFLICT';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreConflictError';
  }
}
