import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { CliError, CliErrorCode, usageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/**
 * `attache accounts create` from flags: builds exactly the body of POST /v1/aws/accounts (the API's
 * field names), so a flag set and a `-f` file mean the same thing. Shapes are the API's to check;
 * here only what a flag set cannot express is refused (a field for another auth type, a missing
 * required field), so the mistake is named in flag terms.
 */
export interface AccountFlags {
  name?: string;
  id?: string;
  description?: string;
  partition?: string;
  testRegion?: string;
  selectors?: string[];
  gateway?: string;
  stsEndpoint?: string;
  ec2Endpoint?: string;
  iamEndpoint?: string;
  caBundleFile?: string;
  authType?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  roleArn?: string;
  externalId?: string;
  sessionName?: string;
  durationSeconds?: string;
  sourceType?: string;
  sourceRoleArn?: string;
  sourceSessionName?: string;
  portalUrl?: string;
  agencyName?: string;
  accountName?: string;
  roleName?: string;
  rolePrefix?: string;
  permissionBoundaryArn?: string;
  userCertificateFile?: string;
  userKey?: string;
}

export const AUTH_TYPES = ['static', 'assumeRole', 'delegate', 'irsa', 'podIdentity', 'scap'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
const BASE_TYPES: readonly AuthType[] = ['static', 'delegate', 'irsa', 'podIdentity', 'scap'];

type Flag = keyof AccountFlags;
/** The flags of each base credential type: [flag, API field, required]. */
const BASE_FIELDS: Record<Exclude<AuthType, 'assumeRole'>, ReadonlyArray<readonly [Flag, string, boolean]>> = {
  static: [
    ['accessKeyId', 'accessKeyId', true],
    ['secretAccessKey', 'secretAccessKey', true],
    ['sessionToken', 'sessionToken', false],
  ],
  delegate: [],
  irsa: [],
  podIdentity: [],
  scap: [
    ['portalUrl', 'portalUrl', true],
    ['agencyName', 'agencyName', true],
    ['accountName', 'accountName', true],
    ['roleName', 'roleName', true],
    ['rolePrefix', 'rolePrefix', false],
    ['permissionBoundaryArn', 'permissionBoundaryArn', false],
    ['userCertificateFile', 'userCertificate', true],
    ['userKey', 'userKey', true],
  ],
};
/** Flags that name an auth field: used by one type, refused with any other. */
const AUTH_FLAGS: readonly Flag[] = [
  ...new Set<Flag>([
    ...Object.values(BASE_FIELDS).flatMap((fields) => fields.map(([flag]) => flag)),
    'roleArn',
    'externalId',
    'sessionName',
    'durationSeconds',
    'sourceType',
    'sourceRoleArn',
    'sourceSessionName',
  ]),
];

/** `--access-key-id` for `accessKeyId`. */
export const flagName = (flag: string): string => `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function accountFromFlags(flags: AccountFlags, readText: (path: string) => string = readTextFile): Record<string, unknown> {
  if (!flags.name) throw usageError('accounts create needs --name (or -f FILE with the account).');
  const type = flags.authType ?? 'static';
  if (!isAuthType(type)) throw usageError(`--auth-type ${type} is not one of ${AUTH_TYPES.join(', ')}.`);
  const used = new Set<Flag>();
  let auth: Record<string, unknown>;
  if (type === 'assumeRole') {
    if (!flags.roleArn) throw usageError('--auth-type assumeRole needs --role-arn (the role to assume).');
    const sourceType = flags.sourceType ?? 'delegate';
    if (!isAuthType(sourceType) || !BASE_TYPES.includes(sourceType)) throw usageError(`--source-type ${sourceType} is not one of ${BASE_TYPES.join(', ')}.`);
    auth = { type, roleArn: flags.roleArn };
    used.add('roleArn').add('sourceType');
    for (const [flag, field] of [['externalId', 'externalId'], ['sessionName', 'sessionName']] as const) {
      if (flags[flag] === undefined) continue;
      auth[field] = flags[flag];
      used.add(flag);
    }
    if (flags.durationSeconds !== undefined) {
      auth['durationSeconds'] = integer(flags.durationSeconds, '--duration-seconds');
      used.add('durationSeconds');
    }
    const source = baseAuth(sourceType as Exclude<AuthType, 'assumeRole'>, flags, used, readText, { roleArn: 'sourceRoleArn', sessionName: 'sourceSessionName' });
    if (flags.sourceType !== undefined || Object.keys(source).length > 1) auth['source'] = source;
  } else {
    auth = baseAuth(type, flags, used, readText, { roleArn: 'roleArn', sessionName: 'sessionName' });
  }
  const stray = AUTH_FLAGS.filter((f) => flags[f] !== undefined && !used.has(f));
  if (stray.length > 0) throw usageError(`${stray.map(flagName).join(', ')} ${stray.length === 1 ? 'does' : 'do'} not apply to --auth-type ${type}${type === 'assumeRole' ? ` with --source-type ${flags.sourceType ?? 'delegate'}` : ''}.`);

  const endpoints = Object.fromEntries(
    ([['sts', flags.stsEndpoint], ['ec2', flags.ec2Endpoint], ['iam', flags.iamEndpoint]] as const).filter(([, v]) => v !== undefined),
  );
  return {
    ...(flags.id !== undefined ? { id: flags.id } : {}),
    name: flags.name,
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    partition: flags.partition ?? 'aws',
    auth,
    ...(flags.testRegion !== undefined ? { testRegion: flags.testRegion } : {}),
    ...(flags.selectors !== undefined ? { delegateSelectors: flags.selectors } : {}),
    ...(flags.gateway !== undefined ? { gateway: flags.gateway } : {}),
    ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
    ...(flags.caBundleFile !== undefined ? { caBundle: readText(flags.caBundleFile) } : {}),
  };
}

function baseAuth(
  type: Exclude<AuthType, 'assumeRole'>,
  flags: AccountFlags,
  used: Set<Flag>,
  readText: (path: string) => string,
  irsaFlags: { roleArn: Flag; sessionName: Flag },
): Record<string, unknown> {
  const auth: Record<string, unknown> = { type };
  const fields: ReadonlyArray<readonly [Flag, string, boolean]> =
    type === 'irsa' ? [[irsaFlags.roleArn, 'roleArn', false], [irsaFlags.sessionName, 'sessionName', false]] : BASE_FIELDS[type];
  const missing = fields.filter(([flag, , required]) => required && flags[flag] === undefined).map(([flag]) => flagName(flag));
  if (missing.length > 0) throw usageError(`auth type ${type} needs ${missing.join(', ')}.`);
  for (const [flag, field] of fields) {
    const value = flags[flag];
    if (value === undefined) continue;
    used.add(flag);
    auth[field] = flag.endsWith('File') ? readText(value as string) : value;
  }
  return auth;
}

const isAuthType = (t: string): t is AuthType => (AUTH_TYPES as readonly string[]).includes(t);

function integer(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw usageError(`${flag} must be a whole number of seconds, not "${value}".`);
  return n;
}

export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(CliErrorCode.FILE_UNREADABLE, `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, ExitCode.USAGE, { path }, { cause: err });
  }
}

/** `-f file.yaml|json|-`: the API body as it is; YAML is a superset of JSON, so one parser reads both. */
export function accountFromFile(path: string, readText: (path: string) => string = readTextFile): Record<string, unknown> {
  const text = readText(path === '-' ? '/dev/stdin' : path);
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new CliError(CliErrorCode.USAGE, `${path} is neither YAML nor JSON: ${(err as Error).message}`, ExitCode.USAGE, { path }, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`${path} must hold one account (a mapping with name, partition, auth, ...).`);
  return doc as Record<string, unknown>;
}
