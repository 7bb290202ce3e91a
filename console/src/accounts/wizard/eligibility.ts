import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.js';
import { useLiveUpdates } from '../../events/use-live-updates.js';
import { tagsOf, type Placement } from './placement.js';

export const ELIGIBILITY_KEY = ['delegate-eligibility'] as const;
/** The gateway list of the same step: delegate groups with a connected replica, presence too. */
export const GATEWAYS_KEY = ['gateways'] as const;

/**
 * The connected delegates that could run the account's validation with this placement, by the
 * control plane's own rule (GET /v1/delegates/eligibility), refreshed with the gateway list on
 * every presence event (`live`; a caller that only needs the answer once leaves the stream to the
 * Delegates step, whose events refresh the same queries).
 */
export function useEligibility(placement: Placement, { enabled = true, live = true }: { enabled?: boolean; live?: boolean } = {}) {
  const tags = tagsOf(placement);
  const query = { taskType: 'aws.validate', ...(tags.length ? { tags: tags.join(',') } : {}), ...(placement.kind === 'gateway' && placement.gateway ? { gateway: placement.gateway } : {}) };
  const updates = useLiveUpdates({ types: ['delegate.presence'], invalidate: [ELIGIBILITY_KEY, GATEWAYS_KEY], enabled: enabled && live });
  return useQuery({
    queryKey: [...ELIGIBILITY_KEY, query],
    queryFn: () => unwrap(api.GET('/v1/delegates/eligibility', { params: { query } })),
    placeholderData: keepPreviousData,
    refetchInterval: live ? updates.refetchInterval : false,
    retry: false,
    enabled,
  });
}
