import { csvField, csvLine } from './dashboard-csv.js';

describe('dashboard CSV', () => {
  it('leaves plain values as they are and empties null', () => {
    expect(csvLine(['download_cma', 42, '0.000372', null, undefined])).toBe(
      'download_cma,42,0.000372,,\r\n',
    );
  });

  it('quotes commas, quotes and line breaks, doubling quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField(' padded')).toBe('" padded"');
  });

  it.each(['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\tx', '\rx'])(
    'guards %j against formula injection',
    (value) => {
      const field = csvField(value);
      expect(field.replace(/^"/, '').startsWith(`'${value[0]}`)).toBe(true);
    },
  );

  it('guards and quotes together', () => {
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(
      `"'=HYPERLINK(""http://x"",""y"")"`,
    );
  });

  it('writes objects as JSON and dates as ISO', () => {
    expect(csvField({ pages: 3 })).toBe('"{""pages"":3}"');
    expect(csvField(new Date('2026-03-01T00:00:00Z'))).toBe(
      '2026-03-01T00:00:00.000Z',
    );
  });
});
