import { distinctIds } from './rules.js';

type Lookup = (tenantId: string, ids: string[]) => Promise<Map<string, string>> | Map<string, string>;

/**
 * Names of delegates by id, remembered. A delegate's id is a digest of its tenant, name and instance
 * (`delegates/delegate-id.ts`), so the name behind an id never changes and a remembered one is never
 * stale. Every task view, task event and task audit entry names its delegate; without this, each is
 * a query. Bounded: the oldest entries go first.
 */
export class DelegateNameCache {
  private readonly names = new Map<string, string>();

  constructor(
    private readonly lookup: Lookup,
    private readonly capacity = 20_000,
  ) {}

  async get(tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const id of distinctIds(ids)) {
      const name = this.names.get(key(tenantId, id));
      if (name === undefined) missing.push(id);
      else found.set(id, name);
    }
    if (missing.length === 0) return found;
    for (const [id, name] of await this.lookup(tenantId, missing)) {
      found.set(id, name);
      this.remember(key(tenantId, id), name);
    }
    return found;
  }

  private remember(k: string, name: string): void {
    if (this.names.size >= this.capacity) this.names.delete(this.names.keys().next().value!);
    this.names.set(k, name);
  }
}

function key(tenantId: string, id: string): string {
  return `${tenantId}\u0000${id}`;
}
