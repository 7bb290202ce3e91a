import { describe, expect, it } from 'vitest';
import { bypassesProxy, proxySettingsFromEnv } from './https-agent.js';

describe('proxy settings', () => {
  it('reads HTTPS_PROXY before https_proxy and takes a bare host:port as plain HTTP', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy.corp:3128', https_proxy: 'http://other:1' }).httpsProxy?.href).toBe('http://proxy.corp:3128/');
    expect(proxySettingsFromEnv({ https_proxy: 'http://user:pw@p:8080' }).httpsProxy?.username).toBe('user');
    expect(proxySettingsFromEnv({}).httpsProxy).toBeUndefined();
  });

  it('matches NO_PROXY hosts, domain suffixes, IPs, ports and *', () => {
    const { noProxy } = proxySettingsFromEnv({ NO_PROXY: '.sc2s.sgov.gov, vpce.internal:443,10.0.0.5 localhost' });
    expect(bypassesProxy('sts.us-isob-east-1.sc2s.sgov.gov', 443, noProxy)).toBe(true);
    expect(bypassesProxy('sc2s.sgov.gov', 443, noProxy)).toBe(true);
    expect(bypassesProxy('ec2.vpce.internal', 443, noProxy)).toBe(true);
    expect(bypassesProxy('ec2.vpce.internal', 8443, noProxy)).toBe(false);
    expect(bypassesProxy('10.0.0.5', 443, noProxy)).toBe(true);
    expect(bypassesProxy('localhost', 80, noProxy)).toBe(true);
    expect(bypassesProxy('sts.amazonaws.com', 443, noProxy)).toBe(false);
    expect(bypassesProxy('notsc2s.sgov.gov.evil', 443, noProxy)).toBe(false);
    expect(bypassesProxy('anything', 443, ['*'])).toBe(true);
  });
});
