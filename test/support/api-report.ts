import { resolve } from 'node:path';
import ts from 'typescript';

/**
 * The public surface of each entry point of the package, read by the TypeScript compiler from the
 * sources: every exported name with its kind and declared type, and for classes their public
 * members. `test/public-api.spec.ts` compares it with the report committed in `api/`.
 */

export interface ExportedName {
  name: string;
  kind: string;
  /** One line per public member (classes), or the type (everything else). */
  signature: string[];
  documented: boolean;
  internalMembers: string[];
}

const root = resolve(import.meta.dirname, '../..');

/** The entry points of package.json `exports`, by subpath, as source files. */
export const ENTRY_POINTS: Record<string, string> = {
  '@cma/logging': 'src/logging/index.ts',
  '@cma/logging/pricing': 'src/logging/pricing.ts',
  '@cma/logging/entities': 'src/logging/entities/index.ts',
  '@cma/logging/migrations': 'src/logging/migrations/index.ts',
  '@cma/logging/dashboard': 'src/logging/dashboard/index.ts',
  '@cma/logging/seals': 'src/logging/seals/index.ts',
  '@cma/logging/partitions': 'src/logging/partitions/index.ts',
};

function kindOf(symbol: ts.Symbol): string {
  const flags = symbol.flags;
  if (flags & ts.SymbolFlags.Class) return 'class';
  if (flags & ts.SymbolFlags.Interface) return 'interface';
  if (flags & ts.SymbolFlags.TypeAlias) return 'type';
  if (flags & ts.SymbolFlags.Function) return 'function';
  if (flags & ts.SymbolFlags.Enum) return 'enum';
  return 'const';
}

const isPublic = (declaration: ts.Declaration) =>
  !(
    ts.getCombinedModifierFlags(declaration) &
    (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
  ) &&
  !(
    ts.isPropertyDeclaration(declaration) &&
    ts.isPrivateIdentifier(declaration.name)
  );

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

export function readApi(): Record<string, ExportedName[]> {
  const files = Object.values(ENTRY_POINTS).map((file) => resolve(root, file));
  const config = ts.getParsedCommandLineOfConfigFile(
    resolve(root, 'tsconfig.build.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  const program = ts.createProgram(files, config!.options);
  const checker = program.getTypeChecker();
  const flags =
    ts.TypeFormatFlags.NoTruncation |
    ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;
  const api: Record<string, ExportedName[]> = {};

  for (const [entry, file] of Object.entries(ENTRY_POINTS)) {
    const source = program.getSourceFile(resolve(root, file))!;
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    api[entry] = checker
      .getExportsOfModule(moduleSymbol)
      .map((exported) => {
        const symbol =
          exported.flags & ts.SymbolFlags.Alias
            ? checker.getAliasedSymbol(exported)
            : exported;
        const declaration = symbol.declarations![0];
        const kind = kindOf(symbol);
        let signature: string[];
        const internalMembers: string[] = [];
        if (kind === 'class') {
          const classType = checker.getDeclaredTypeOfSymbol(symbol);
          const statics = checker.getTypeOfSymbolAtLocation(
            symbol,
            declaration,
          );
          const members = [
            ...checker
              .getPropertiesOfType(statics)
              .filter((m) => m.name !== 'prototype')
              .map((m) => ['static ', m] as const),
            ...checker
              .getPropertiesOfType(classType)
              .map((m) => ['', m] as const),
          ];
          const ctor = statics
            .getConstructSignatures()
            .map(
              (s) =>
                `constructor${oneLine(checker.signatureToString(s, undefined, flags)).replace(/:[^:]*$/, '')}`,
            );
          signature = [...ctor];
          for (const [prefix, member] of members) {
            const memberDeclaration = member.declarations?.[0];
            if (memberDeclaration && !isPublic(memberDeclaration)) continue;
            // Members inherited from the platform (Error's stack, ...) are not the module's surface.
            if (
              memberDeclaration &&
              program.isSourceFileDefaultLibrary(
                memberDeclaration.getSourceFile(),
              )
            ) {
              continue;
            }
            if (
              memberDeclaration
                ?.getSourceFile()
                .fileName.includes('/node_modules/')
            )
              continue;
            if (member.getJsDocTags().some((tag) => tag.name === 'internal')) {
              internalMembers.push(member.name);
            }
            const type = checker.getTypeOfSymbolAtLocation(member, declaration);
            const readonly =
              memberDeclaration &&
              ts.getCombinedModifierFlags(memberDeclaration) &
                ts.ModifierFlags.Readonly
                ? 'readonly '
                : '';
            signature.push(
              `${prefix}${readonly}${member.name}: ${oneLine(checker.typeToString(type, declaration, flags))}`,
            );
          }
        } else if (kind === 'interface' || kind === 'type') {
          signature = [
            oneLine(
              checker.typeToString(
                checker.getDeclaredTypeOfSymbol(symbol),
                declaration,
                flags | ts.TypeFormatFlags.InTypeAlias,
              ),
            ),
          ];
          if (kind === 'interface') {
            signature = checker
              .getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))
              .map(
                (m) =>
                  `${m.name}${m.flags & ts.SymbolFlags.Optional ? '?' : ''}: ${oneLine(
                    checker.typeToString(
                      checker.getTypeOfSymbolAtLocation(m, declaration),
                      declaration,
                      flags,
                    ),
                  )}`,
              );
          }
        } else {
          signature = [
            oneLine(
              checker.typeToString(
                checker.getTypeOfSymbolAtLocation(symbol, declaration),
                declaration,
                flags,
              ),
            ),
          ];
        }
        return {
          name: exported.name,
          kind,
          signature,
          documented:
            ts
              .displayPartsToString(symbol.getDocumentationComment(checker))
              .trim().length > 0,
          internalMembers,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }
  return api;
}

/** The report of one entry point, as committed in `api/`. */
export function renderReport(entry: string, names: ExportedName[]): string {
  const lines = [
    `# API report: \`${entry}\``,
    '',
    `${names.length} exports. Generated by \`npm run api:report\`; checked by test/public-api.spec.ts.`,
    '',
  ];
  for (const name of names) {
    lines.push(`## ${name.kind} \`${name.name}\``, '', '```ts');
    lines.push(...name.signature);
    lines.push('```', '');
  }
  return lines.join('\n');
}

export const reportFile = (entry: string) =>
  resolve(
    root,
    'api',
    `${entry.replace('@cma/', '').replace('/', '-')}.api.md`,
  );
