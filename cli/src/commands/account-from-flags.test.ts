import { describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { accountFromFile, accountFromFlags } from './account-from-flags.js';

const files: Record<string, string> = { 'ca.pem': 'CA PEM', 'user.pem': 'USER CERT PEM' };
const read = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error(`unexpected read of ${path}`);
  return text;
};
const build = (flags: Parameters<typeof accountFromFlags>[0]) => accountFromFlags(flags, read);
const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toMatchObject({ code: 'USAGE', exitCode: ExitCode.USAGE });
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
};

describe('accountFromFlags: the API body of POST /v1/aws/accounts', () => {
  it('static with references, selectors, gateway, endpoints and a CA bundle from a file', () => {
    expect(
      build({
        name: 'prod',
        authType: 'static',
        accessKeyId: 'env:AWS_ACCESS_KEY_ID',
        secretAccessKey: 'file:/run/secret',
        sessionToken: 'env:AWS_SESSION_TOKEN',
        selectors: ['aws', 'prod'],
        gateway: 'vpc-east',
        stsEndpoint: 'https://sts.vpce.example',
        caBundleFile: 'ca.pem',
        testRegion: 'us-west-2',
      }),
    ).toEqual({
      name: 'prod',
      partition: 'aws',
      auth: { type: 'static', accessKeyId: 'env:AWS_ACCESS_KEY_ID', secretAccessKey: 'file:/run/secret', sessionToken: 'env:AWS_SESSION_TOKEN' },
      delegateSelectors: ['aws', 'prod'],
      gateway: 'vpc-east',
      endpoints: { sts: 'https://sts.vpce.example' },
      caBundle: 'CA PEM',
      testRegion: 'us-west-2',
    });
  });

  it('static is the default type, and its required fields are named as flags', () => {
    expect(usage(() => build({ name: 'x', accessKeyId: 'env:A' }))).toBe('auth type static needs --secret-access-key.');
    expect(usage(() => build({ name: 'x' }))).toBe('auth type static needs --access-key-id, --secret-access-key.');
    expect(usage(() => build({ accessKeyId: 'env:A', secretAccessKey: 'env:B' }))).toMatch(/needs --name/);
  });

  it('delegate, podIdentity and irsa; irsa takes an optional role and session name', () => {
    expect(build({ name: 'a', authType: 'delegate', partition: 'aws-us-gov' })).toEqual({ name: 'a', partition: 'aws-us-gov', auth: { type: 'delegate' } });
    expect(build({ name: 'a', authType: 'podIdentity' }).auth).toEqual({ type: 'podIdentity' });
    expect(build({ name: 'a', authType: 'irsa' }).auth).toEqual({ type: 'irsa' });
    expect(build({ name: 'a', authType: 'irsa', roleArn: 'arn:aws:iam::123456789012:role/R', sessionName: 'cli' }).auth).toEqual({
      type: 'irsa',
      roleArn: 'arn:aws:iam::123456789012:role/R',
      sessionName: 'cli',
    });
  });

  it('assumeRole on the delegate\'s chain leaves source out (the API\'s default); a static source carries its references', () => {
    expect(build({ name: 'r', authType: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/R', externalId: 'ext-1', durationSeconds: '3600' }).auth).toEqual({
      type: 'assumeRole',
      roleArn: 'arn:aws:iam::123456789012:role/R',
      externalId: 'ext-1',
      durationSeconds: 3600,
    });
    expect(
      build({ name: 'r', authType: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/R', sourceType: 'static', accessKeyId: 'env:SRC_ID', secretAccessKey: 'env:SRC_SECRET' }).auth,
    ).toEqual({ type: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/R', source: { type: 'static', accessKeyId: 'env:SRC_ID', secretAccessKey: 'env:SRC_SECRET' } });
    expect(
      build({ name: 'r', authType: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/R', sourceType: 'irsa', sourceRoleArn: 'arn:aws:iam::123456789012:role/Web' }).auth,
    ).toEqual({ type: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/R', source: { type: 'irsa', roleArn: 'arn:aws:iam::123456789012:role/Web' } });
    expect(usage(() => build({ name: 'r', authType: 'assumeRole' }))).toMatch(/needs --role-arn/);
    expect(usage(() => build({ name: 'r', authType: 'assumeRole', roleArn: 'arn:aws:iam::1:role/R', durationSeconds: 'an hour' }))).toMatch(/--duration-seconds must be a whole number/);
  });

  it('scap reads the user certificate from a file and takes the key as a reference', () => {
    expect(
      build({
        name: 's',
        partition: 'aws-iso-b',
        authType: 'scap',
        portalUrl: 'https://portal.example/creds',
        agencyName: 'AG',
        accountName: 'ACCT',
        roleName: 'DevOps',
        rolePrefix: 'X_',
        userCertificateFile: 'user.pem',
        userKey: 'file:/keys/user.key',
        caBundleFile: 'ca.pem',
      }),
    ).toEqual({
      name: 's',
      partition: 'aws-iso-b',
      caBundle: 'CA PEM',
      auth: { type: 'scap', portalUrl: 'https://portal.example/creds', agencyName: 'AG', accountName: 'ACCT', roleName: 'DevOps', rolePrefix: 'X_', userCertificate: 'USER CERT PEM', userKey: 'file:/keys/user.key' },
    });
    expect(usage(() => build({ name: 's', authType: 'scap', portalUrl: 'https://p' }))).toBe('auth type scap needs --agency-name, --account-name, --role-name, --user-certificate-file, --user-key.');
  });

  it('refuses flags of another auth type instead of dropping them', () => {
    expect(usage(() => build({ name: 'd', authType: 'delegate', secretAccessKey: 'env:X' }))).toBe('--secret-access-key does not apply to --auth-type delegate.');
    expect(usage(() => build({ name: 'r', authType: 'assumeRole', roleArn: 'arn:aws:iam::1:role/R', accessKeyId: 'env:A', secretAccessKey: 'env:B' }))).toBe(
      '--access-key-id, --secret-access-key do not apply to --auth-type assumeRole with --source-type delegate.',
    );
    expect(usage(() => build({ name: 'i', authType: 'irsa', sourceRoleArn: 'arn:aws:iam::1:role/R' }))).toBe('--source-role-arn does not apply to --auth-type irsa.');
  });
});

describe('accountFromFile', () => {
  it('reads YAML and JSON (the API body as it is)', () => {
    const yaml = 'name: prod\npartition: aws\nauth:\n  type: static\n  accessKeyId: env:A\n  secretAccessKey: env:B\ndelegateSelectors: [aws]\n';
    const body = { name: 'prod', partition: 'aws', auth: { type: 'static', accessKeyId: 'env:A', secretAccessKey: 'env:B' }, delegateSelectors: ['aws'] };
    expect(accountFromFile('a.yaml', () => yaml)).toEqual(body);
    expect(accountFromFile('a.json', () => JSON.stringify(body))).toEqual(body);
  });

  it('a file that is not one mapping is a usage error naming the file', () => {
    expect(usage(() => accountFromFile('list.yaml', () => '- a\n- b\n'))).toMatch(/^list\.yaml must hold one account/);
    expect(usage(() => accountFromFile('bad.yaml', () => 'name: [unclosed'))).toMatch(/^bad\.yaml is neither YAML nor JSON/);
  });
});
