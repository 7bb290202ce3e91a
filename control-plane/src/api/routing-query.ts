import { z } from 'zod';
import { GROUP_NAME, TAG } from '../names.js';

/**
 * Where work would run, as a query string says it: comma-separated tags (the selectors) and a
 * gateway (a delegate group name). Shared by the routes that answer for a placement before any task
 * exists: the role setup and delegate eligibility.
 */
export const tagListQuery = z
  .string()
  .max(2048)
  .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t !== ''))
  .pipe(z.array(z.string().regex(TAG, 'selectors are tags: lowercase letters, digits and . _ : / -')).max(32));

export const gatewayQuery = z.string().regex(GROUP_NAME, 'a gateway is a delegate group name');
