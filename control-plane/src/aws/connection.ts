/**
 * How a delegate reaches an account's AWS: per-service endpoint overrides and the CA bundle that
 * trusts them. Both live in the account's one stored `endpoints` document (the CA bundle under
 * `caBundle`), so adding trust needed no schema change; the API shows them as two fields.
 */
const CA_BUNDLE_KEY = 'caBundle';

export type EndpointOverrides = Partial<Record<'sts' | 'ec2' | 'iam', string>>;

export function storedConnection(endpoints: EndpointOverrides, caBundle: string | undefined): Record<string, string> {
  return { ...(endpoints as Record<string, string>), ...(caBundle ? { [CA_BUNDLE_KEY]: caBundle } : {}) };
}

export function endpointOverrides(stored: Record<string, string>): EndpointOverrides {
  const { [CA_BUNDLE_KEY]: _caBundle, ...endpoints } = stored;
  return endpoints;
}

export function caBundleOf(stored: Record<string, string>): string | undefined {
  return stored[CA_BUNDLE_KEY] || undefined;
}
