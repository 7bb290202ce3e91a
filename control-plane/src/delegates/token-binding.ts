import { GoodbyeCode } from '@attache/proto';
import type { DelegateToken } from '../store/store.js';

export type BindingRefusal = { code: typeof GoodbyeCode.GROUP_NOT_ALLOWED | typeof GoodbyeCode.TAGS_NOT_ALLOWED; message: string };

/**
 * Whether a token may register a delegate under this group name with these declared tags.
 *
 * - A token bound to a group (`token.group`) registers only as that group.
 * - A token bound to tags (`token.tags`) declares only tags from that set. The tags every delegate
 *   gets without declaring them (its group name, `key:<id>` for each key it proved) do not count:
 *   `declaredTags` is what the Hello listed, without the name.
 * - A token not bound to a group cannot take a group name that a non-revoked bound token of its
 *   tenant owns (`groupIsBound`), so binding a gateway's token protects the gateway's name, its
 *   tasks and the first-use trust of its keys from every other token of the tenant.
 *
 * `group` and `declaredTags` are already valid names and tags (validateHello).
 */
export function checkTokenBinding(
  token: Pick<DelegateToken, 'id' | 'name' | 'group' | 'tags'>,
  group: string,
  declaredTags: readonly string[],
  groupIsBound: boolean,
): BindingRefusal | null {
  const which = `Delegate token ${token.id} ("${token.name}")`;
  if (token.group !== null && token.group !== group) {
    return {
      code: GoodbyeCode.GROUP_NOT_ALLOWED,
      message: `${which} is bound to delegate group "${token.group}" and cannot register as "${group}"; set ATTACHE_DELEGATE_NAME=${token.group} or use a token made for "${group}".`,
    };
  }
  if (token.group === null && groupIsBound) {
    return {
      code: GoodbyeCode.GROUP_NOT_ALLOWED,
      message: `${which} is not bound to a group, and delegate group "${group}" belongs to tokens bound to it; use a token created with group "${group}" (POST /v1/delegate-tokens).`,
    };
  }
  if (token.tags !== null) {
    const allowed = new Set(token.tags);
    const outside = declaredTags.filter((t) => !allowed.has(t));
    if (outside.length > 0) {
      const set = token.tags.length > 0 ? `only the tags ${token.tags.join(', ')}` : 'no declared tags';
      return {
        code: GoodbyeCode.TAGS_NOT_ALLOWED,
        message: `${which} allows delegate group "${group}" ${set}, not ${outside.join(', ')}; remove them from ATTACHE_TAGS or use a token that allows them.`,
      };
    }
  }
  return null;
}
