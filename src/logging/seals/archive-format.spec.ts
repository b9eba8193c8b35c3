import { createHash } from 'node:crypto';
import {
  isArchiveRow,
  isoOfUs,
  manifestDigestOf,
  manifestText,
  moduleVersion,
  parseMonth,
} from './archive-format.js';
import type { ArchiveManifest } from './archive.types.js';

describe('the archive format', () => {
  it('a month is YYYY-MM, bounded by its first microsecond and the next month’s', () => {
    expect(parseMonth('export', '2026-12')).toEqual({
      month: '2026-12',
      fromUs: BigInt(Date.UTC(2026, 11, 1)) * 1000n,
      toUs: BigInt(Date.UTC(2027, 0, 1)) * 1000n,
    });
    for (const bad of ['2026-13', '2026-1', '26-01', '2026-00', 202601, null]) {
      expect(() => parseMonth('export', bad)).toThrow(
        /^export: month must be a UTC month written YYYY-MM, got /,
      );
    }
  });

  it('the manifest commits to its own bytes: any byte changed, its digest no longer matches', () => {
    const text = manifestText({
      format: 'cma-logging-archive',
      month: '2026-10',
      firms: [{ firmId: 'f', digest: 'ab'.repeat(32) }],
      manifestDigest: '',
    } as unknown as ArchiveManifest);
    const parsed = JSON.parse(text) as ArchiveManifest;
    const blanked = text.replace(parsed.manifestDigest, '0'.repeat(64));
    expect(parsed.manifestDigest).toBe(
      createHash('sha256').update(blanked).digest('hex'),
    );
    expect(manifestDigestOf(text)).toEqual({
      stored: parsed.manifestDigest,
      computed: parsed.manifestDigest,
    });
    const edited = text.replace('2026-10', '2026-11');
    const found = manifestDigestOf(edited)!;
    expect(found.computed).not.toBe(found.stored);
    expect(manifestDigestOf('{}')).toBeNull();
  });

  it('instants are microseconds since 1970, written back as ISO with microseconds', () => {
    expect(isoOfUs('1795939200000123')).toBe('2026-11-29T08:00:00.000123Z');
    expect(isoOfUs(-1n)).toBe('1969-12-31T23:59:59.999999Z');
  });

  it('a row line holds every column of its log, as text or null, with an id, a firm and an instant', () => {
    const row = {
      id: '00000000-0000-0000-0000-000000000001',
      firm_id: '00000000-0000-0000-0000-0000000000aa',
      user_id: null,
      action: 'upload_file',
      entity_type: 'uploaded_file',
      entity_id: null,
      metadata: '{"pages": 3}',
      ip_address: null,
      created_at: '1795939200000123',
    };
    expect(isArchiveRow('audit_log', row)).toBe(true);
    expect(isArchiveRow('llm_usage_log', row)).toBe(false);
    expect(isArchiveRow('audit_log', { ...row, extra: null })).toBe(false);
    expect(
      isArchiveRow('audit_log', { ...row, created_at: '2026' + 'x' }),
    ).toBe(false);
    expect(isArchiveRow('audit_log', { ...row, id: null })).toBe(false);
    expect(isArchiveRow('audit_log', { ...row, action: 3 })).toBe(false);
  });

  it('names the module and its version from its package.json', () => {
    expect(moduleVersion()).toEqual({
      name: '@cma/logging',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/) as string,
    });
  });
});
