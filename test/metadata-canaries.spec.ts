import {
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { captureLogs } from './support/logs.js';
import { loggingModuleRef } from './support/logging-app.js';
import { databaseSuite } from './support/suite.js';
import { metadataDeclaration } from '../src/logging/core/metadata-declaration.js';
import {
  IDENTIFIER_CANARIES,
  looseIdentifiers,
} from '../src/logging/core/metadata-canaries.js';
import { spellsIdentityNumber } from '../src/logging/core/sensitive-values.js';

/**
 * Declarations that say how much they trust: at startup, each declared identifier pattern is tried
 * against canaries (a PAN, an Aadhaar number, a phone number, an amount with a currency), and a
 * pattern that admits one gets one warning naming the class and the property.
 */

class Inner {
  // what a host writes when it means "some reference"
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/)
  code!: string;
}

class LooseMetadata {
  @Matches(/^[A-Za-z][A-Za-z0-9_.:-]*$/)
  reference!: string;

  @IsOptional()
  @Matches(/^inv_[a-z0-9]{8,16}$/)
  invoice?: string;

  @IsOptional()
  @IsIn(['pdf', 'xlsx'])
  kind?: string;

  @IsOptional()
  @IsUUID()
  documentId?: string;

  @IsOptional()
  @IsInt()
  @Max(1000)
  pages?: number;

  @IsOptional()
  @ValidateNested()
  inner?: Inner;
}

class ShortMetadata {
  // loose, but no canary fits in 5 characters
  @Matches(/^[A-Za-z0-9]+$/)
  @MaxLength(5)
  tag!: string;
}

describe('declared identifier patterns tried against canaries', () => {
  const suite = databaseSuite();

  it('each canary is what it stands for', () => {
    const [, aadhaar] = IDENTIFIER_CANARIES.find(([name]) =>
      name.includes('Aadhaar'),
    )!;
    expect(spellsIdentityNumber([Number(aadhaar[0])])).toBe(true);
  });

  it('finds the loose patterns, nested ones included, and names what they admit', () => {
    const loose = looseIdentifiers(metadataDeclaration(LooseMetadata));
    expect(loose.map(({ where, admits }) => ({ where, admits }))).toEqual([
      {
        where: 'LooseMetadata.reference',
        admits: ['a PAN', 'an amount with a currency'],
      },
      {
        where: 'LooseMetadata.inner.code',
        admits: [
          'a PAN',
          'an Aadhaar number',
          'a phone number',
          'an amount with a currency',
        ],
      },
    ]);
    expect(looseIdentifiers(metadataDeclaration(ShortMetadata))).toEqual([]);
  });

  it('warns once at startup per loose property, for the audit actions and the ledger, naming class, property and fix', async () => {
    const moduleRef = await loggingModuleRef(suite.url, {
      audit: {
        actions: {
          upload_file: LooseMetadata,
          resolve_review: LooseMetadata,
          download_cma: ShortMetadata,
        },
      },
      ledger: { metadata: { grant: LooseMetadata, deduct: ShortMetadata } },
    });
    suite.own({ close: () => moduleRef.close() });
    const logs = captureLogs(moduleRef);
    await moduleRef.init();
    const loose = logs.warn.filter((w) => w.includes('its pattern'));
    expect(loose).toHaveLength(4);
    for (const table of ['audit_log', 'credit_transaction']) {
      const mine = loose.filter((w) => w.startsWith(`${table}: `));
      expect(mine.map((w) => w.split(':')[1].trim())).toEqual([
        'metadata declaration LooseMetadata.reference',
        'metadata declaration LooseMetadata.inner.code',
      ]);
      expect(mine[0]).toContain('admits a PAN and an amount with a currency');
      expect(mine[0]).toContain('@IsIn([...])');
      expect(mine[0]).toContain('@IsUUID()');
    }
    expect(logs.warn.join('\n')).not.toContain('ShortMetadata');
  });
});
