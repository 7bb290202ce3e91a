import { describe, expect, it } from 'vitest';
import { cellText, formatFields, formatTable } from './table.js';

describe('formatTable', () => {
  const rows = [
    { name: 'prod', id: 'acc_1', tags: ['aws', 'prod'], at: null },
    { name: 'a-much-longer-name', id: 'acc_22', tags: [], at: '2026-12-01T20:00:00.000Z' },
  ];
  const columns = [
    { header: 'name', value: (r: (typeof rows)[number]) => r.name },
    { header: 'id', value: (r: (typeof rows)[number]) => r.id },
    { header: 'tags', value: (r: (typeof rows)[number]) => r.tags },
    { header: 'last checked', value: (r: (typeof rows)[number]) => r.at },
  ];

  it('aligns every column two spaces past its widest cell, headers in capitals, no trailing blanks', () => {
    expect(formatTable(columns, rows)).toBe(
      [
        'NAME                ID      TAGS      LAST CHECKED',
        'prod                acc_1   aws,prod  -',
        'a-much-longer-name  acc_22  -         2026-12-01T20:00:00.000Z',
        '',
      ].join('\n'),
    );
  });

  it('measures what is visible: colour escapes in the header take no width', () => {
    const bold = (s: string) => `\x1b[1m${s}\x1b[22m`;
    const lines = formatTable(columns, rows, { header: bold }).split('\n');
    expect(lines[0]!.replace(/\x1b\[[0-9;]*m/g, '')).toBe('NAME                ID      TAGS      LAST CHECKED');
    expect(lines[1]).toBe('prod                acc_1   aws,prod  -');
  });

  it('prints only the header for no rows', () => {
    expect(formatTable(columns, [])).toBe('NAME  ID  TAGS  LAST CHECKED\n');
  });
});

describe('cellText', () => {
  it('shows nothing as -, lists comma-separated, objects as JSON, and keeps a cell on one line', () => {
    expect(cellText(undefined)).toBe('-');
    expect(cellText('')).toBe('-');
    expect(cellText([])).toBe('-');
    expect(cellText([1, 'b', null])).toBe('1,b,-');
    expect(cellText({ type: 'static' })).toBe('{"type":"static"}');
    expect(cellText('two\n  lines')).toBe('two lines');
    expect(cellText(0)).toBe('0');
  });
});

describe('formatFields', () => {
  it('aligns values after the longest label', () => {
    expect(formatFields([['id', 'acc_1'], ['aws account', '123456789012'], ['arn', null]])).toBe('id:          acc_1\naws account: 123456789012\narn:         -\n');
  });
});
