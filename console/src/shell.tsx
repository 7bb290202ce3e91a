import { NavLink, Outlet } from 'react-router';
import { SignOutButton, useSession } from './session/session.js';
import { roleAtLeast, type Role } from './session/roles.js';

/** The pages of the navigation, with the role each needs to be shown (the API checks again). */
const NAV: ReadonlyArray<{ to: string; label: string; role: Role }> = [
  { to: '/accounts', label: 'Cloud accounts', role: 'viewer' },
  { to: '/delegates', label: 'Delegates', role: 'viewer' },
  { to: '/gateways', label: 'Gateways', role: 'viewer' },
  { to: '/tokens', label: 'Tokens', role: 'admin' },
  { to: '/tasks', label: 'Tasks', role: 'viewer' },
  { to: '/audit', label: 'Audit', role: 'admin' },
  { to: '/users', label: 'Users', role: 'admin' },
  { to: '/api-keys', label: 'API keys', role: 'admin' },
];

export function Shell() {
  const me = useSession();
  return (
    <div className="shell">
      <nav className="shell-nav" aria-label="Main">
        <span className="brand">Attaché</span>
        <ul>
          {NAV.filter((n) => roleAtLeast(me.role, n.role)).map((n) => (
            <li key={n.to}>
              <NavLink to={n.to}>{n.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main className="shell-main">
        <section className="shell-user" aria-label="Signed in">
          <span>
            <strong>{me.user.name}</strong> ({me.user.email}) · role <strong data-testid="role">{me.role}</strong> · tenant {me.tenant.name}
          </span>
          <SignOutButton />
        </section>
        <Outlet />
      </main>
    </div>
  );
}
