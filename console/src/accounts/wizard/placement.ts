/** Where the account's tasks run: any delegate, delegates with all of some tags, or one gateway. */
export type Placement = { kind: 'any' } | { kind: 'tags'; tags: string } | { kind: 'gateway'; gateway: string };

export function tagsOf(p: Placement): string[] {
  return p.kind === 'tags' ? p.tags.split(',').map((t) => t.trim()).filter((t) => t !== '') : [];
}
