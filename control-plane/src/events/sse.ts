/**
 * Server-Sent Events framing (the WHATWG HTML "event stream" format). Data is always one JSON line,
 * so no field ever needs splitting; ids and names are ours and carry no newlines.
 */
export function sseEvent(id: string | null, name: string, data: unknown): string {
  const json = JSON.stringify(data);
  return `${id !== null ? `id: ${id}\n` : ''}event: ${name}\ndata: ${json}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies from closing an idle stream. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}
