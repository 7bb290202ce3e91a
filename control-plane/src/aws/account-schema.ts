import { z } from 'zod';
import { GROUP_NAME, TAG } from '../names.js';
import { literalSecretKind, SECRET_REF, SECRET_REF_HELP } from '../security/literal-secrets.js';
import { isRegionInPartition, PARTITION_NAMES, PARTITIONS, type Partition } from './partitions.js';
import { pemCertificateProblems } from './pem.js';

/**
 * The API shape of an AWS account. Only descriptions are accepted: secret fields take references
 * resolved on the delegate, and a literal secret where a reference belongs is refused with
 * LITERAL_SECRET_REJECTED (see secretRef below).
 */
export const LITERAL_SECRET_MARK = 'LITERAL_SECRET:';

const secretRef = z.string().superRefine((value, ctx) => {
  const kind = literalSecretKind(value);
  if (kind) {
    ctx.addIssue({ code: 'custom', message: `${LITERAL_SECRET_MARK}this looks like ${kind}; the control plane never stores secret values. ${SECRET_REF_HELP}` });
    return;
  }
  if (!SECRET_REF.test(value)) ctx.addIssue({ code: 'custom', message: `must be a secret reference. ${SECRET_REF_HELP}` });
});

const roleArn = z
  .string()
  .regex(/^arn:(aws|aws-us-gov|aws-iso|aws-iso-b):iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/AttacheValidation');

const staticAuth = z
  .object({
    type: z.literal('static'),
    accessKeyId: secretRef,
    secretAccessKey: secretRef,
    sessionToken: secretRef.optional(),
  })
  .strict();

const delegateAuth = z.object({ type: z.literal('delegate') }).strict();

/** PEM certificates, parsed here so that a bad paste is a 400 now rather than a trust failure on a delegate later. */
const pemCertificates = z
  .string()
  .max(262_144)
  .superRefine((value, ctx) => {
    const problems = pemCertificateProblems(value);
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: `malformed PEM: ${problems.join('; ')}` });
  });

const sessionName = z.string().regex(/^[\w+=,.@-]{2,64}$/, 'must be 2-64 characters of [A-Za-z0-9+=,.@-_]');

/** IAM roles for service accounts; without roleArn the delegate uses its pod's AWS_ROLE_ARN. */
const irsaAuth = z.object({ type: z.literal('irsa'), roleArn: roleArn.optional(), sessionName: sessionName.optional() }).strict();

/** EKS Pod Identity and other container credential endpoints, configured on the delegate's pod. */
const podIdentityAuth = z.object({ type: z.literal('podIdentity') }).strict();

/** Palette's default, so that `DevOpsRole` names the portal role `PROJECT_DevOpsRole`. */
export const DEFAULT_SCAP_ROLE_PREFIX = 'PROJECT_';
/** IAM's limit on role names, which the prefixed name must respect. */
const MAX_ROLE_NAME = 64;

const scapAuth = z
  .object({
    type: z.literal('scap'),
    /** The portal's credentials endpoint; the delegate adds the query of the partition's portal style. */
    portalUrl: z.url({ protocol: /^https$/, error: 'must be an https URL (the portal requires mutual TLS)' }).max(2048).refine((u) => !u.includes('?') && !u.includes('#'), 'must not contain a query or fragment; the delegate adds them'),
    agencyName: z.string().trim().min(1).max(128),
    accountName: z.string().trim().min(1).max(128),
    roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9+=,.@-_]'),
    rolePrefix: z.string().regex(/^[\w+=,.@-]{0,63}$/, 'must be up to 63 characters of [A-Za-z0-9+=,.@-_]').optional(),
    permissionBoundaryArn: z
      .string()
      .regex(/^arn:(aws|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}|aws):policy\/[\w+=,.@/-]{1,128}$/, 'must be an IAM policy ARN, e.g. arn:aws-iso-b:iam::123456789012:policy/MyPermissionBoundaryPolicy')
      .optional(),
    userCertificate: pemCertificates,
    userKey: secretRef,
  })
  .strict();

/** The full role name a SCAP account asks its portal for. */
export function scapRoleName(auth: { roleName: string; rolePrefix?: string | undefined }): string {
  return `${auth.rolePrefix ?? DEFAULT_SCAP_ROLE_PREFIX}${auth.roleName}`;
}

const baseAuth = z.discriminatedUnion('type', [staticAuth, delegateAuth, irsaAuth, podIdentityAuth, scapAuth]);

const assumeRoleAuth = z
  .object({
    type: z.literal('assumeRole'),
    roleArn,
    /** Defaults to the tenant's external ID; an account may override it for roles set up elsewhere. */
    externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 characters of [A-Za-z0-9+=,.@:/-_]').optional(),
    sessionName: sessionName.optional(),
    durationSeconds: z.number().int().min(900).max(43_200).optional(),
    source: baseAuth.optional(),
  })
  .strict();

export const authSchema = z.discriminatedUnion('type', [staticAuth, assumeRoleAuth, delegateAuth, irsaAuth, podIdentityAuth, scapAuth]);
export type AccountAuth = z.infer<typeof authSchema>;

const endpointUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);
const endpointsSchema = z.object({ sts: endpointUrl.optional(), ec2: endpointUrl.optional(), iam: endpointUrl.optional() }).strict();

const tag = z.string().regex(TAG, 'tags are lowercase letters, digits and . _ : / -, up to 63 characters');

const fields = {
  name: z.string().trim().min(1).max(128),
  description: z.string().max(1024).optional(),
  partition: z.enum(PARTITION_NAMES as [Partition, ...Partition[]]),
  auth: authSchema,
  testRegion: z.string().max(32).optional(),
  delegateSelectors: z.array(tag).max(32).optional(),
  /** A delegate group (a delegate's name) to run this account's tasks on only, like Palette's Private Cloud Gateway. */
  gateway: z.string().regex(GROUP_NAME, 'a gateway is a delegate group name: lowercase letters, digits and -, up to 63 characters').optional(),
  endpoints: endpointsSchema.optional(),
  /** PEM trust store for every AWS call of the account (and its SCAP portal); required for aws-iso and aws-iso-b. */
  caBundle: pemCertificates.optional(),
};

/** Partitions whose endpoints present certificates of a private (government) CA. */
const PRIVATE_CA_PARTITIONS: readonly Partition[] = ['aws-iso', 'aws-iso-b'];

function checkConsistency(
  v: { partition?: Partition | undefined; testRegion?: string | undefined; auth?: AccountAuth | undefined; caBundle?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (!v.partition) return;
  if (PRIVATE_CA_PARTITIONS.includes(v.partition) && !v.caBundle) {
    ctx.addIssue({
      code: 'custom',
      path: ['caBundle'],
      message: `partition ${v.partition} (${PARTITIONS[v.partition].label}) needs caBundle: the PEM root, intermediate or chain that signed its endpoints' certificates`,
    });
  }
  const base = v.auth?.type === 'assumeRole' ? v.auth.source : v.auth;
  if (base?.type === 'scap') {
    const full = scapRoleName(base);
    if (full.length > MAX_ROLE_NAME) {
      ctx.addIssue({ code: 'custom', path: v.auth === base ? ['auth', 'roleName'] : ['auth', 'source', 'roleName'], message: `the prefixed role name ${full} has ${full.length} characters; IAM allows at most ${MAX_ROLE_NAME}` });
    }
    if (!PRIVATE_CA_PARTITIONS.includes(v.partition)) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'type'], message: `scap credentials come from the SC2S/C2S access portals, so the partition must be aws-iso-b or aws-iso, not ${v.partition}` });
    }
  }
  if (base?.type === 'irsa' && base.roleArn && base.roleArn.split(':')[1] !== v.partition) {
    ctx.addIssue({ code: 'custom', path: ['auth', 'roleArn'], message: `role ARN is in partition ${base.roleArn.split(':')[1]}, but the account's partition is ${v.partition}` });
  }
  if (v.testRegion && !isRegionInPartition(v.testRegion, v.partition)) {
    ctx.addIssue({
      code: 'custom',
      path: ['testRegion'],
      message: `region "${v.testRegion}" is not in partition ${v.partition} (${PARTITIONS[v.partition].label}); for example ${PARTITIONS[v.partition].defaultRegion}`,
    });
  }
  if (v.auth?.type === 'assumeRole') {
    const arnPartition = v.auth.roleArn.split(':')[1];
    if (arnPartition !== v.partition) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'roleArn'], message: `role ARN is in partition ${arnPartition}, but the account's partition is ${v.partition}` });
    }
  }
}

/**
 * A client may choose the id (the generated format, so ids stay unguessable and collision-free across
 * tenants): a sealed value is bound to its account id, so it must be known before sealing.
 */
export const ACCOUNT_ID = /^acc_[0-9a-hjkmnp-tv-z]{26}$/;

export const createAccountSchema = z
  .object({
    ...fields,
    /** Absent means the commercial partition, as in the AWS consoles. */
    partition: fields.partition.default('aws'),
    id: z.string().regex(ACCOUNT_ID, 'must be an account id of the form acc_ and 26 characters of [0-9a-hjkmnp-tv-z] (attache-delegate new-account-id)').optional(),
  })
  .strict()
  .superRefine(checkConsistency);
export type CreateAccount = z.infer<typeof createAccountSchema>;

export const patchAccountSchema = z
  .object({
    name: fields.name.optional(),
    description: fields.description,
    partition: fields.partition.optional(),
    auth: fields.auth.optional(),
    testRegion: fields.testRegion,
    delegateSelectors: fields.delegateSelectors,
    /** null unpins the account from its gateway. */
    gateway: fields.gateway.unwrap().nullable().optional(),
    endpoints: fields.endpoints,
    caBundle: fields.caBundle,
  })
  .strict();
export type PatchAccount = z.infer<typeof patchAccountSchema>;

/** Re-checks a merged account (after PATCH) for partition/region/ARN consistency. */
export const mergedAccountCheck = z
  .object({ partition: fields.partition, testRegion: z.string().optional(), auth: authSchema, caBundle: z.string().optional() })
  .superRefine(checkConsistency);
