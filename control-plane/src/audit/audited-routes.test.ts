import { CLI_SIGN_IN_EXCHANGE_PATH } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { NATS_CREDENTIALS_PATH } from '@attache/proto';
import { ROUTE_ACCESS } from '../api/access/route-access.js';
import { AUDIT_ACTIONS } from './actions.js';
import { AUDITED_ROUTES } from './audited-routes.js';

/** Changes the API makes that the route table does not record, each with the reason. */
const NOT_FROM_THE_ROUTE: Record<string, string> = {
  'POST /v1/aws/accounts/:id/validate': 'recorded when the validation task ends (audit/task-audit.ts), with its delegate and outcome',
  [`POST ${NATS_CREDENTIALS_PATH}`]: 'a delegate fetching its own NATS credentials, not a change to the tenant',
};

describe('AUDITED_ROUTES', () => {
  it('names only routes that exist, with listed actions', () => {
    for (const [route, rule] of Object.entries(AUDITED_ROUTES)) {
      expect(ROUTE_ACCESS[route], route).toBeDefined();
      expect(AUDIT_ACTIONS, route).toContain(rule.action);
      if (rule.failedAction) expect(AUDIT_ACTIONS, route).toContain(rule.failedAction);
    }
  });

  it('covers every route that changes something', () => {
    const changing = Object.keys(ROUTE_ACCESS).filter((route) => !route.startsWith('GET '));
    const missing = changing.filter((route) => !(route in AUDITED_ROUTES) && !(route in NOT_FROM_THE_ROUTE));
    expect(missing).toEqual([]);
  });

  it('records every sign-in route, the ones answering a redirect included, as a sign-in or a failed one', () => {
    // Starting an OIDC sign-in only redirects to the provider, and the providers route only says how
    // to sign in: nothing is signed in or refused yet.
    const notASignIn = new Set(['GET /v1/session/oidc/start', 'GET /v1/session/providers']);
    // The CLI's code exchange is a sign-in of its own kind.
    const cli = `POST ${CLI_SIGN_IN_EXCHANGE_PATH}`;
    const signIns = Object.entries(ROUTE_ACCESS).filter(([route, access]) => access === 'sign-in' && !notASignIn.has(route) && route !== cli).map(([route]) => route);
    expect(signIns).toEqual(expect.arrayContaining(['POST /v1/session', 'GET /v1/session/oidc/callback']));
    for (const route of signIns) expect(AUDITED_ROUTES[route], route).toMatchObject({ action: 'session.sign_in', failedAction: 'session.sign_in_failed' });
    expect(AUDITED_ROUTES[cli]).toMatchObject({ action: 'session.cli_sign_in', failedAction: 'session.cli_sign_in_failed' });
  });

  it('gives every action one name', () => {
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
    for (const action of AUDIT_ACTIONS) expect(action).toMatch(/^[a-z_]+\.[a-z_]+$/);
  });
});
