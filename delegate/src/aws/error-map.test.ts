import { ExpiredTokenException, RegionDisabledException, STSServiceException } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { defaultSessionName } from './assume-role.js';
import { toTaskFailure, type ErrorContext } from './error-map.js';
import { ProxyTunnelError } from './https-agent.js';

// The moto tests cover the paths moto can produce; these cover AWS answers and Node errors it cannot,
// built with the SDK's own exception classes.
const live: ErrorContext = { step: 'ec2:DescribeRegions', signal: new AbortController().signal, endpoint: 'https://ec2.us-east-1.amazonaws.com', principalArn: 'arn:aws:iam::111122223333:user/ops' };
const metadata = { httpStatusCode: 403, requestId: 'req-1' };

describe('toTaskFailure', () => {
  it('passes the policy refusals through unchanged, whatever the step and endpoint', () => {
    for (const code of ['SECRET_NOT_ALLOWED', 'ENDPOINT_NOT_ALLOWED']) {
      const refusal = new TaskFailure(code, 'refused by the delegate policy', { setting: 'ATTACHE_ALLOW_ENDPOINTS', field: 'endpoints.sts' });
      const aborted = new AbortController();
      aborted.abort();
      for (const ctx of [live, { ...live, step: 'credentials' as const }, { ...live, signal: aborted.signal }]) {
        const f = toTaskFailure(refusal, ctx);
        expect(f).toBe(refusal);
        expect(f.code).toBe(code);
        expect(f.details).toEqual({ setting: 'ATTACHE_ALLOW_ENDPOINTS', field: 'endpoints.sts' });
      }
    }
  });

  it('maps expired tokens to EXPIRED_CREDENTIALS with the AWS code and request ID', () => {
    const f = toTaskFailure(new ExpiredTokenException({ message: 'The security token included in the request is expired', $metadata: metadata }), { ...live, step: 'sts:GetCallerIdentity' });
    expect(f.code).toBe('EXPIRED_CREDENTIALS');
    expect(f.details).toMatchObject({ awsErrorCode: 'ExpiredTokenException', requestId: 'req-1', step: 'sts:GetCallerIdentity' });
  });

  it("maps EC2's UnauthorizedOperation to MISSING_PERMISSION naming the action and principal", () => {
    const error = new STSServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: metadata, message: 'You are not authorized to perform this operation.' });
    const f = toTaskFailure(error, live);
    expect(f.code).toBe('MISSING_PERMISSION');
    expect(f.message).toContain('ec2:DescribeRegions');
    expect(f.message).toContain('arn:aws:iam::111122223333:user/ops');
  });

  it('maps a disabled STS region to REGION_DISABLED', () => {
    const f = toTaskFailure(new RegionDisabledException({ message: 'STS is not activated in this region', $metadata: metadata }), { ...live, step: 'sts:GetCallerIdentity', region: 'ap-east-1' });
    expect(f.code).toBe('REGION_DISABLED');
    expect(f.message).toContain('ap-east-1');
  });

  it('finds the system error code inside an AggregateError from a dual-stack connect', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED ::1:443'), { code: 'ECONNREFUSED' });
    const f = toTaskFailure(new AggregateError([inner], 'connect failed'), live);
    expect(f.code).toBe('ENDPOINT_UNREACHABLE');
    expect(f.message).toContain('https://ec2.us-east-1.amazonaws.com');
  });

  it('maps a proxy that refuses the tunnel to ENDPOINT_UNREACHABLE naming the proxy and NO_PROXY', () => {
    const f = toTaskFailure(new ProxyTunnelError('http://proxy.corp:3128', 'sts.us-east-1.amazonaws.com:443', 403), live);
    expect(f.code).toBe('ENDPOINT_UNREACHABLE');
    expect(f.message).toContain('http://proxy.corp:3128 did not open a tunnel to sts.us-east-1.amazonaws.com:443 (HTTP 403)');
    expect(f.message).toContain('NO_PROXY');
    expect(f.details).toMatchObject({ proxy: 'http://proxy.corp:3128', proxyStatusCode: 403 });
  });

  it('maps a denied web identity exchange to ASSUME_ROLE_DENIED about the OIDC trust', () => {
    const error = new STSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: metadata, message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity' });
    const f = toTaskFailure(error, { ...live, step: 'sts:AssumeRoleWithWebIdentity', roleArn: 'arn:aws:iam::111122223333:role/irsa' });
    expect(f.code).toBe('ASSUME_ROLE_DENIED');
    expect(f.message).toContain('OIDC provider');
  });

  it('maps DNS failures to ENDPOINT_UNREACHABLE', () => {
    const f = toTaskFailure(Object.assign(new Error('getaddrinfo ENOTFOUND sts.example.invalid'), { code: 'ENOTFOUND' }), live);
    expect(f.code).toBe('ENDPOINT_UNREACHABLE');
    expect(f.details).toMatchObject({ errorCode: 'ENOTFOUND' });
  });

  it('maps a missing delegate identity to NO_CREDENTIALS', () => {
    const f = toTaskFailure(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), { ...live, step: 'credentials' });
    expect(f.code).toBe('NO_CREDENTIALS');
  });

  it('prefers the abort reason over whatever the SDK threw', () => {
    const controller = new AbortController();
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    expect(toTaskFailure(new Error('Request aborted'), { ...live, signal: controller.signal }).code).toBe('TIMEOUT');
    const cancelled = new AbortController();
    cancelled.abort();
    expect(toTaskFailure(new Error('Request aborted'), { ...live, signal: cancelled.signal }).code).toBe('CANCELLED');
  });

  it('passes TaskFailures through and falls back to AWS_ERROR', () => {
    const own = new TaskFailure('SECRET_UNRESOLVED', 'x');
    expect(toTaskFailure(own, live)).toBe(own);
    const other = new STSServiceException({ name: 'Throttling', $fault: 'client', $metadata: metadata, message: 'Rate exceeded' });
    const f = toTaskFailure(other, live);
    expect(f.code).toBe('AWS_ERROR');
    expect(f.details).toMatchObject({ awsErrorCode: 'Throttling' });
  });
});

describe('defaultSessionName', () => {
  it('is attache- plus the first 8 usable characters of the task id', () => {
    expect(defaultSessionName('0f3c9a7e-5b1d-4c2e')).toBe('attache-0f3c9a7e');
    expect(defaultSessionName('t/1:2 3')).toBe('attache-t123');
    expect(defaultSessionName('')).toBe('attache');
  });
});
