import { RadioGroup, TextField } from '../../ui/components.js';
import type { SecretInput } from './auth-form.js';

const REFERENCE_HINT =
  'A reference the delegate resolves: env:NAME or file:/path. The delegate reads only what its policy allows (ATTACHE_ALLOW_REFS); a header field (access key ID, session token) must be named for it, e.g. env:PROD_ACCESS_KEY_ID.';
const SEAL_HINT = 'Encrypted in this page to the delegate group’s public key: only ciphertext bound to this tenant, account and field is sent.';

/** A secret: "Reference on the delegate" or "Seal in this browser". */
export function SecretField({ label, value, onChange, multiline }: { label: string; value: SecretInput; onChange: (v: SecretInput) => void; multiline?: boolean }) {
  return (
    <div className="card">
      <RadioGroup
        legend={`${label} source`}
        name={`${label}-source`}
        value={value.mode}
        options={[
          { value: 'reference', label: 'Reference on the delegate' },
          { value: 'seal', label: 'Seal in this browser' },
        ]}
        onChange={(mode) => onChange({ mode, text: '' })}
      />
      <TextField
        label={label}
        multiline={multiline}
        type={value.mode === 'seal' && !multiline ? 'password' : 'text'}
        autoComplete="off"
        spellCheck={false}
        placeholder={value.mode === 'reference' ? 'env:NAME or file:/path' : ''}
        hint={value.mode === 'reference' ? REFERENCE_HINT : SEAL_HINT}
        value={value.text}
        onChange={(e) => onChange({ ...value, text: e.currentTarget.value })}
      />
    </div>
  );
}
