import type { ApiClient } from '../api/client.js';
import { seg } from '../api/client.js';
import { pickByNameOrId } from '../api/resolve.js';

/** An AWS account as the API shows it (GET /v1/aws/accounts/{id}), as far as the CLI reads it. */
export interface Account {
  id: string;
  name: string;
  partition: string;
  auth: { type: string; [k: string]: unknown };
  status: string;
  awsAccountId: string | null;
  arn: string | null;
  lastCheckedAt: string | null;
  lastError: { code: string; message: string } | null;
  delegateSelectors: string[];
  gateway: string | null;
  policyArns: string[];
  [k: string]: unknown;
}

/** The API's id format; anything else is looked up by name. */
const ACCOUNT_ID = /^acc_[0-9a-hjkmnp-tv-z]{26}$/;

/** An account by id, or by its name through the list (ambiguous and unknown names are errors). */
export async function resolveAccount(api: ApiClient, ref: string): Promise<Account> {
  if (ACCOUNT_ID.test(ref)) return (await api.get<Account>(`/v1/aws/accounts/${seg(ref)}`)).body;
  const body = await api.list<Account>('/v1/aws/accounts');
  return pickByNameOrId(body.items, ref, 'AWS account', 'attache accounts list');
}
