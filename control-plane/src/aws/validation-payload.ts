import type { AwsAccountRecord } from '../store/store.js';
import { scapRoleName, type AccountAuth } from './account-schema.js';
import { caBundleOf, endpointOverrides } from './connection.js';
import { PARTITIONS, type Partition } from './partitions.js';

type BaseAuth = Exclude<AccountAuth, { type: 'assumeRole' }>;

function base(auth: BaseAuth): Record<string, unknown> {
  switch (auth.type) {
    case 'delegate':
      return { delegate: {} };
    case 'podIdentity':
      return { podIdentity: {} };
    case 'irsa':
      return { irsa: { ...(auth.roleArn ? { roleArn: auth.roleArn } : {}), ...(auth.sessionName ? { sessionName: auth.sessionName } : {}) } };
    case 'scap':
      // The permission boundary concerns roles created later, not validation, so it stays here.
      return {
        scap: {
          portalUrl: auth.portalUrl,
          agencyName: auth.agencyName,
          accountName: auth.accountName,
          roleName: scapRoleName(auth),
          userCertificate: auth.userCertificate,
          userKeyRef: auth.userKey,
        },
      };
    case 'static':
      return {
        static: {
          accessKeyIdRef: auth.accessKeyId,
          secretAccessKeyRef: auth.secretAccessKey,
          ...(auth.sessionToken ? { sessionTokenRef: auth.sessionToken } : {}),
        },
      };
  }
}

/**
 * The aws.validate payload (JSON form of attache.aws.v1.ValidateAccountPayload) for an account.
 * It carries references and the tenant's external ID, never a secret value.
 */
export function validationPayload(account: AwsAccountRecord, tenantExternalId: string): Record<string, unknown> {
  const auth = account.auth as AccountAuth;
  const partition = account.partition as Partition;
  let authJson: Record<string, unknown>;
  if (auth.type === 'assumeRole') {
    authJson = {
      assumeRole: {
        roleArn: auth.roleArn,
        externalId: auth.externalId ?? tenantExternalId,
        ...(auth.sessionName ? { sessionName: auth.sessionName } : {}),
        ...(auth.durationSeconds ? { durationSeconds: auth.durationSeconds } : {}),
        ...(auth.source ? { source: base(auth.source) } : {}),
      },
    };
  } else {
    authJson = base(auth);
  }
  const endpoints = endpointOverrides(account.endpoints);
  const caBundle = caBundleOf(account.endpoints);
  return {
    accountId: account.id,
    partition,
    testRegion: account.testRegion || PARTITIONS[partition].defaultRegion,
    auth: authJson,
    ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
    ...(caBundle ? { caBundle } : {}),
  };
}
