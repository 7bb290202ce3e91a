import { useId, type ReactNode, type ButtonHTMLAttributes, type InputHTMLAttributes, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import { ApiError } from '../api/client.js';

/** The console's design system: a few accessible controls, every one with a visible label. */

export function Button({ variant = 'primary', className, ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'secondary' | 'danger' }) {
  return <button type="button" {...props} className={`button ${variant === 'primary' ? '' : variant} ${className ?? ''}`.trim()} />;
}

export function TextField({ label, hint, multiline, ...props }: { label: string; hint?: ReactNode; multiline?: boolean } & InputHTMLAttributes<HTMLInputElement> & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {multiline ? <textarea id={id} aria-describedby={hintId} {...props} /> : <input id={id} aria-describedby={hintId} {...props} />}
      {hint && <span id={hintId} className="hint">{hint}</span>}
    </div>
  );
}

export function SelectField({ label, hint, options, ...props }: { label: string; hint?: ReactNode; options: ReadonlyArray<{ value: string; label: string }> } & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-describedby={hintId} {...props}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && <span id={hintId} className="hint">{hint}</span>}
    </div>
  );
}

export function RadioGroup<T extends string>({ legend, name, value, options, onChange }: { legend: string; name: string; value: T; options: ReadonlyArray<{ value: T; label: string }>; onChange: (value: T) => void }) {
  return (
    <fieldset className="field">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o.value} className="choice">
          <input type="radio" name={name} value={o.value} checked={value === o.value} onChange={() => onChange(o.value)} />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}

export function Switch({ label, checked, onChange, disabled }: { label: string; checked: boolean; onChange: (checked: boolean) => void; disabled?: boolean }) {
  const id = useId();
  return (
    <span className="switch">
      <button id={id} type="button" role="switch" aria-checked={checked} aria-label={label} className="switch-track" disabled={disabled} onClick={() => onChange(!checked)} />
      <label htmlFor={id}>{label}</label>
    </span>
  );
}

const BADGE_TONE: Record<string, 'ok' | 'bad' | 'warn' | ''> = {
  valid: 'ok', connected: 'ok', succeeded: 'ok', active: 'ok',
  invalid: 'bad', failed: 'bad', disconnected: 'bad', revoked: 'bad', expired: 'bad',
  validating: 'warn', draining: 'warn', running: 'warn', queued: 'warn', assigned: 'warn',
};

/** A status word with its tone; the word itself carries the meaning, colour only repeats it. */
export function StatusBadge({ status }: { status: string }) {
  const label = status === 'unvalidated' ? 'unchecked' : status;
  return <span className={`badge ${BADGE_TONE[status] ?? ''}`}>{label}</span>;
}

/** An error with its stable code and the API's sentence. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="notice bad" role="alert">
      {code && <strong>{code}</strong>} {message}
    </div>
  );
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="row spread">
      <h1>{title}</h1>
      <div className="row">{children}</div>
    </div>
  );
}
