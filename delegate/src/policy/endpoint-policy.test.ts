import { describe, expect, it } from 'vitest';
import type { Partition } from '../aws/partitions.js';
import { TaskFailure } from '../executors/task-failure.js';
import { EndpointPolicy, type EndpointField } from './endpoint-policy.js';
import { parseOriginPatterns, type OriginPattern } from './origin-pattern.js';

function policy(list = ''): EndpointPolicy {
  const parsed = parseOriginPatterns(list);
  if ('errors' in parsed) throw new Error(parsed.errors.join('; '));
  return new EndpointPolicy(parsed.origins);
}

function refused(p: EndpointPolicy, url: string, field: EndpointField = 'endpoints.sts', partition: Partition = 'aws'): TaskFailure {
  try {
    p.permit(url, { field, partition });
  } catch (error) {
    expect(error).toBeInstanceOf(TaskFailure);
    const f = error as TaskFailure;
    expect(f.code).toBe('ENDPOINT_NOT_ALLOWED');
    expect(f.details).toMatchObject({ setting: 'ATTACHE_ALLOW_ENDPOINTS', field });
    expect(f.message).toContain('ATTACHE_ALLOW_ENDPOINTS');
    return f;
  }
  throw new Error(`${url} was permitted for ${field} in ${partition}`);
}

const permits = (p: EndpointPolicy, url: string, field: EndpointField = 'endpoints.sts', partition: Partition = 'aws') =>
  p.permit(url, { field, partition });

describe('EndpointPolicy without entries', () => {
  const none = policy();

  it("accepts each partition's own endpoints over HTTPS", () => {
    for (const [url, field, partition] of [
      ['https://sts.us-east-1.amazonaws.com', 'endpoints.sts', 'aws'],
      ['https://sts.amazonaws.com/', 'endpoints.sts', 'aws'],
      ['https://sts-fips.us-east-2.amazonaws.com:443', 'endpoints.sts', 'aws'],
      ['https://ec2.eu-west-1.amazonaws.com', 'endpoints.ec2', 'aws'],
      ['https://ec2.us-east-1.api.aws', 'endpoints.ec2', 'aws'],
      ['https://iam.amazonaws.com', 'endpoints.iam', 'aws'],
      ['https://sts.us-gov-west-1.amazonaws.com', 'endpoints.sts', 'aws-us-gov'],
      ['https://iam.us-gov.amazonaws.com', 'endpoints.iam', 'aws-us-gov'],
      ['https://ec2.us-iso-east-1.c2s.ic.gov', 'endpoints.ec2', 'aws-iso'],
      ['https://sts.us-isob-east-1.sc2s.sgov.gov', 'endpoints.sts', 'aws-iso-b'],
    ] as const) {
      expect(new URL(permits(none, url, field, partition)).href).toBe(new URL(url).href);
    }
  });

  it('refuses other names under amazonaws.com, whoever can create them', () => {
    for (const url of [
      'https://abc123.execute-api.us-east-1.amazonaws.com',
      'https://my-lb-1234567890.us-east-1.elb.amazonaws.com',
      'https://ec2-203-0-113-5.compute-1.amazonaws.com',
      'https://sts.us-east-1.amazonaws.com.attacker.test',
      'https://bucket.s3.us-east-1.amazonaws.com',
      'https://sts.compute-1.amazonaws.com',
    ]) {
      refused(none, url);
    }
  });

  it('refuses a service endpoint in the wrong field, the wrong partition, over http or another port', () => {
    refused(none, 'https://ec2.us-east-1.amazonaws.com', 'endpoints.sts');
    refused(none, 'https://sts.us-gov-west-1.amazonaws.com', 'endpoints.sts', 'aws');
    refused(none, 'https://sts.us-east-1.amazonaws.com', 'endpoints.sts', 'aws-us-gov');
    refused(none, 'https://ec2.amazonaws.com', 'endpoints.ec2');
    refused(none, 'http://sts.us-east-1.amazonaws.com');
    refused(none, 'https://sts.us-east-1.amazonaws.com:8443');
    refused(none, 'https://user:pass@sts.us-east-1.amazonaws.com');
  });

  it('refuses every portal and anything that is not an http(s) URL', () => {
    refused(none, 'https://sts.us-east-1.amazonaws.com', 'portalUrl');
    refused(none, 'https://portal.example/sc2s', 'portalUrl', 'aws-iso-b');
    refused(none, 'file:///etc/passwd');
    refused(none, 'not a url');
  });

  it('names the URL (without user info) and the field', () => {
    const f = refused(none, 'http://user:secret@127.0.0.2:8000/x', 'endpoints.ec2');
    expect(f.details).toEqual({ endpoint: 'http://127.0.0.2:8000/x', setting: 'ATTACHE_ALLOW_ENDPOINTS', field: 'endpoints.ec2' });
    expect(f.message).toContain('http://127.0.0.2:8000/x');
    expect(f.message).not.toContain('secret');
  });
});

describe('EndpointPolicy with ATTACHE_ALLOW_ENDPOINTS', () => {
  const listed = policy('https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com, https://*.internal.example:8443,http://127.0.0.1:5000');

  it('accepts listed origins, for any field and path', () => {
    expect(permits(listed, 'https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com')).toBe('https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com');
    expect(permits(listed, 'https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com:443/')).toBe('https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com/');
    expect(permits(listed, 'https://portal.internal.example:8443/sc2s/get', 'portalUrl', 'aws-iso-b')).toBe('https://portal.internal.example:8443/sc2s/get');
    expect(permits(listed, 'http://127.0.0.1:5000', 'endpoints.ec2')).toBe('http://127.0.0.1:5000');
    // What is permitted is what the URL parser makes of it, so the client connects to what was checked.
    expect(permits(listed, 'http://2130706433:5000', 'endpoints.ec2')).toBe('http://127.0.0.1:5000/');
  });

  it('refuses another scheme, port or host', () => {
    refused(listed, 'http://127.0.0.1:5001');
    refused(listed, 'https://127.0.0.1:5000');
    refused(listed, 'http://127.0.0.2:5000');
    refused(listed, 'http://localhost:5000');
    refused(listed, 'https://portal.internal.example', 'portalUrl');
    refused(listed, 'https://internal.example:8443');
    refused(listed, 'https://vpce-0a2.sts.us-east-1.vpce.amazonaws.com');
  });
});

describe('parseOriginPatterns', () => {
  const ok = (list: string): OriginPattern[] => {
    const parsed = parseOriginPatterns(list);
    if ('errors' in parsed) throw new Error(parsed.errors.join('; '));
    return parsed.origins;
  };
  const errors = (list: string): string[] => {
    const parsed = parseOriginPatterns(list);
    return 'errors' in parsed ? parsed.errors : [];
  };

  it('normalises case and default ports, deduplicates and sorts', () => {
    expect(ok('HTTPS://B.Example:443, http://a.example, https://b.example, http://[::1]:5000')).toEqual([
      { scheme: 'http', host: '[::1]', port: 5000 },
      { scheme: 'http', host: 'a.example', port: 80 },
      { scheme: 'https', host: 'b.example', port: 443 },
    ]);
  });

  it('refuses paths, queries, user info, other schemes and bad ports, one sentence each', () => {
    expect(errors('https://a.example/path')).toEqual([expect.stringContaining('origin only')]);
    expect(errors('https://a.example?x=1')).toEqual([expect.stringContaining('origin only')]);
    expect(errors('https://user@a.example')).toEqual([expect.stringContaining('origin only')]);
    expect(errors('ftp://a.example')).toEqual([expect.stringContaining('https:// or http://')]);
    expect(errors('a.example')).toEqual([expect.stringContaining('https:// or http://')]);
    expect(errors('https://a.example:70000')).toEqual([expect.stringContaining('port')]);
    expect(errors('https://a.example:0,https://b_ok.example')).toHaveLength(1);
  });
});
