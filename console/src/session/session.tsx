import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, unwrap, type Schemas } from '../api/client.js';
import { Button, ErrorNotice, TextField } from '../ui/components.js';
import { roleAtLeast, type Role } from './roles.js';

export type Me = Extract<Schemas['Me'], { kind: 'user' }>;

const SessionContext = createContext<Me | null>(null);

export function useSession(): Me {
  const me = useContext(SessionContext);
  if (!me) throw new Error('useSession outside a signed-in page');
  return me;
}

export function useCan(role: Role): boolean {
  return roleAtLeast(useSession().role, role);
}

export const ME_KEY = ['me'] as const;

/** Shows the sign-in until GET /v1/me answers for a signed-in user, then the console. */
export function SessionGate({ children }: { children: ReactNode }) {
  const me = useQuery({
    queryKey: ME_KEY,
    queryFn: () => unwrap(api.GET('/v1/me')),
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
  });
  if (me.isPending) return <p className="sign-in">Loading…</p>;
  if (me.data?.kind === 'user') return <SessionContext.Provider value={me.data}>{children}</SessionContext.Provider>;
  return <SignIn />;
}

function SignIn() {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [tenant, setTenant] = useState('');
  const signIn = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/session', { body: { email, password, ...(tenant ? { tenant } : {}) } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ME_KEY }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate();
  };
  const needsTenant = signIn.error instanceof ApiError && signIn.error.code === 'TENANT_REQUIRED';
  const oidcTenant = tenant.trim();
  // "Sign in with SSO" only for a tenant that has a provider (the answer is the same for unknown tenants).
  const providers = useQuery({
    queryKey: ['sign-in-providers', oidcTenant],
    queryFn: () => unwrap(api.GET('/v1/session/providers', { params: { query: { tenant: oidcTenant } } })),
    enabled: oidcTenant !== '',
    retry: false,
  });
  return (
    <main className="sign-in card">
      <h1>Sign in to Attaché</h1>
      <form onSubmit={submit}>
        <TextField label="Email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
        <TextField label="Password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
        <TextField
          label="Tenant"
          hint={needsTenant ? 'This email belongs to more than one tenant: name the one to sign in to.' : 'Only needed when your email is in several tenants, or for single sign-on (SSO).'}
          value={tenant}
          onChange={(e) => setTenant(e.currentTarget.value)}
        />
        <ErrorNotice error={signIn.error} />
        <div className="row">
          <button type="submit" className="button" disabled={signIn.isPending}>
            Sign in
          </button>
          {oidcTenant && providers.data?.oidc && (
            <a className="button secondary" href={`/v1/session/oidc/start?${new URLSearchParams({ tenant: oidcTenant, returnTo: '/accounts' })}`}>
              Sign in with SSO
            </a>
          )}
        </div>
      </form>
    </main>
  );
}

export function SignOutButton() {
  const queryClient = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/session')),
    // Every query forgets its data (nothing of the session stays on screen) and GET /v1/me, now 401, shows the sign-in.
    onSettled: () => queryClient.resetQueries(),
  });
  return (
    <Button variant="secondary" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      Sign out
    </Button>
  );
}
