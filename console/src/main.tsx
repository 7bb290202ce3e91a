import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { AccountDetail } from './accounts/AccountDetail.js';
import { AccountsPage } from './accounts/AccountsPage.js';
import { AddAccountWizard } from './accounts/wizard/AddAccountWizard.js';
import { ApiKeysPage, AuditPage, UsersPage } from './admin/AdminPages.js';
import { DelegatesPage, GatewaysPage } from './delegates/DelegatesPage.js';
import { SessionGate } from './session/session.js';
import { Shell } from './shell.js';
import { TaskDetail, TasksPage } from './tasks/TasksPage.js';
import { TokensPage } from './tokens/TokensPage.js';
import './ui/styles.css';

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true } } });

// The paths here are the console pages the control plane answers with index.html
// (CONSOLE_PAGES in control-plane/src/api/console-assets.ts).
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <SessionGate>
          <Routes>
            <Route element={<Shell />}>
              <Route index element={<Navigate to="/accounts" replace />} />
              <Route path="sign-in" element={<Navigate to="/accounts" replace />} />
              <Route path="accounts" element={<AccountsPage />} />
              <Route path="accounts/new" element={<AddAccountWizard />} />
              <Route path="accounts/:id" element={<AccountDetail />} />
              <Route path="delegates" element={<DelegatesPage />} />
              <Route path="gateways" element={<GatewaysPage />} />
              <Route path="tokens" element={<TokensPage />} />
              <Route path="tasks" element={<TasksPage />} />
              <Route path="tasks/:id" element={<TaskDetail />} />
              <Route path="audit" element={<AuditPage />} />
              <Route path="users" element={<UsersPage />} />
              <Route path="api-keys" element={<ApiKeysPage />} />
              <Route path="*" element={<Navigate to="/accounts" replace />} />
            </Route>
          </Routes>
        </SessionGate>
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
