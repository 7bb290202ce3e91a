import type { AwsAccountRecord } from '../store/store.js';
import { routeSelectors } from '../tasks/eligibility.js';

/**
 * The selectors every task of an account runs with (validation, policy listing): its own selectors
 * plus, when it names a gateway, the gateway's group name. Every delegate carries its group name as
 * a tag, so this pins the work to that group without a second routing mechanism.
 */
export function accountSelectors(account: Pick<AwsAccountRecord, 'delegateSelectors' | 'gateway'>): string[] {
  return routeSelectors(account.delegateSelectors, account.gateway);
}
