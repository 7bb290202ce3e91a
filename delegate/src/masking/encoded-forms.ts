/**
 * Base64 fragments shorter than this are not masked on their own: a 2-character fragment would
 * match almost any base64 text and destroy unrelated output while hiding nothing useful.
 */
const MIN_FRAGMENT_LENGTH = 6;

/**
 * The shapes in which a secret can leave the process: the raw value, its JSON-escaped form (inside
 * a log line), its base64/base64url encodings (HTTP Basic auth, Kubernetes secrets, SDK debug
 * output), and the stable middle of its base64 encoding at each of the three byte alignments: a
 * secret embedded in a larger encoded blob (`user:secret` in Basic auth) only shares those aligned
 * fragments with its own encoding.
 */
export function encodedForms(value: string): string[] {
  const forms = new Set<string>([value]);
  forms.add(JSON.stringify(value).slice(1, -1));
  const bytes = Buffer.from(value, 'utf8');
  const b64 = bytes.toString('base64');
  forms.add(b64);
  forms.add(bytes.toString('base64url'));
  forms.add(b64.replace(/=+$/, ''));
  for (let offset = 0; offset < 3; offset++) {
    const shifted = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Characters whose 6 bits come only from the secret's bytes, whatever surrounds it.
    const first = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const fragment = shifted.slice(first, end);
    if (fragment.length >= MIN_FRAGMENT_LENGTH) {
      forms.add(fragment);
      forms.add(fragment.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  forms.delete('');
  return [...forms];
}

/**
 * How a form appears in serialised bytes (a protobuf result): its UTF-8 bytes, one character per
 * byte, so that bytes read as latin1 can be searched like text. ASCII forms are their own byte view.
 */
export function byteView(form: string): string {
  const bytes = Buffer.from(form, 'utf8');
  return bytes.length === form.length ? form : bytes.toString('latin1');
}
