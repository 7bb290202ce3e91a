import type { Schemas } from '../../api/client.js';

export type AuthType = 'static' | 'assumeRole' | 'delegate' | 'irsa' | 'podIdentity' | 'scap';
/** The API names of the fields that take a secret reference; also the `field` a sealed value is bound to. */
export type SecretFieldName = 'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'userKey';

/** A secret field: a reference the delegate resolves (`env:`/`file:`), or a value to seal in this page. */
export interface SecretInput {
  mode: 'reference' | 'seal';
  text: string;
}

export interface AuthForm {
  type: AuthType;
  accessKeyId: SecretInput;
  secretAccessKey: SecretInput;
  sessionToken: SecretInput;
  roleArn: string;
  externalId: string;
  sessionName: string;
  /** Where an assumed role's source credentials come from. */
  sourceType: 'delegate' | 'static' | 'irsa' | 'podIdentity';
  irsaRoleArn: string;
  portalUrl: string;
  agencyName: string;
  accountName: string;
  scapRoleName: string;
  rolePrefix: string;
  permissionBoundaryArn: string;
  userCertificate: string;
  userKey: SecretInput;
}

/** Palette's default prefix; the portal's full role name is prefix + role and IAM allows 64 characters. */
export const DEFAULT_SCAP_ROLE_PREFIX = 'PROJECT_';
export const MAX_ROLE_NAME = 64;

const secret = (): SecretInput => ({ mode: 'reference', text: '' });

export const emptyAuthForm = (): AuthForm => ({
  type: 'static',
  accessKeyId: secret(),
  secretAccessKey: secret(),
  sessionToken: secret(),
  roleArn: '',
  externalId: '',
  sessionName: '',
  sourceType: 'delegate',
  irsaRoleArn: '',
  portalUrl: '',
  agencyName: '',
  accountName: '',
  scapRoleName: '',
  rolePrefix: DEFAULT_SCAP_ROLE_PREFIX,
  permissionBoundaryArn: '',
  userCertificate: '',
  userKey: secret(),
});

export type Auth = Schemas['AwsAccount']['auth'];
/** Turns one secret input into what the API stores: the reference as typed, or the sealed envelope. */
export type SecretResolver = (field: SecretFieldName, input: SecretInput) => Promise<string>;

const opt = (v: string): string | undefined => (v.trim() === '' ? undefined : v.trim());

async function staticAuth(form: AuthForm, resolve: SecretResolver) {
  const sessionToken = form.sessionToken.text.trim() === '' ? undefined : await resolve('sessionToken', form.sessionToken);
  return {
    type: 'static' as const,
    accessKeyId: await resolve('accessKeyId', form.accessKeyId),
    secretAccessKey: await resolve('secretAccessKey', form.secretAccessKey),
    ...(sessionToken ? { sessionToken } : {}),
  };
}

/** The `auth` object of the API, exactly the fields of the chosen type. */
export async function buildAuth(form: AuthForm, resolve: SecretResolver): Promise<Auth> {
  switch (form.type) {
    case 'static':
      return staticAuth(form, resolve);
    case 'delegate':
      return { type: 'delegate' };
    case 'podIdentity':
      return { type: 'podIdentity' };
    case 'irsa':
      return { type: 'irsa', ...(opt(form.irsaRoleArn) ? { roleArn: opt(form.irsaRoleArn)! } : {}), ...(opt(form.sessionName) ? { sessionName: opt(form.sessionName)! } : {}) };
    case 'scap':
      return {
        type: 'scap',
        portalUrl: form.portalUrl.trim(),
        agencyName: form.agencyName.trim(),
        accountName: form.accountName.trim(),
        roleName: form.scapRoleName.trim(),
        rolePrefix: form.rolePrefix,
        ...(opt(form.permissionBoundaryArn) ? { permissionBoundaryArn: opt(form.permissionBoundaryArn)! } : {}),
        userCertificate: form.userCertificate,
        userKey: await resolve('userKey', form.userKey),
      };
    case 'assumeRole': {
      const source =
        form.sourceType === 'static'
          ? await staticAuth(form, resolve)
          : form.sourceType === 'irsa'
            ? { type: 'irsa' as const, ...(opt(form.irsaRoleArn) ? { roleArn: opt(form.irsaRoleArn)! } : {}) }
            : { type: form.sourceType };
      return {
        type: 'assumeRole',
        roleArn: form.roleArn.trim(),
        ...(opt(form.externalId) ? { externalId: opt(form.externalId)! } : {}),
        ...(opt(form.sessionName) ? { sessionName: opt(form.sessionName)! } : {}),
        source,
      };
    }
  }
}

/** Whether any secret of the chosen type is to be sealed here (then a delegate group's key is needed). */
export function sealsAnything(form: AuthForm): boolean {
  const usesStatic = form.type === 'static' || (form.type === 'assumeRole' && form.sourceType === 'static');
  const fields: SecretInput[] = usesStatic ? [form.accessKeyId, form.secretAccessKey, form.sessionToken] : form.type === 'scap' ? [form.userKey] : [];
  return fields.some((f) => f.mode === 'seal' && f.text !== '');
}
