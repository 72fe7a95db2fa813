/**
 * Config that is set but unused is an error. configFromEnv (shared) fails
 * when a parsed variable never reaches the app's config object; this test
 * closes the other half: every field of each app's config interface (nested
 * literals excepted) is read somewhere in the product's code outside its config
 * literal, found with the TypeScript language service's references (exact,
 * not a text search). Tests, benches and scripts do not count as readers.
 */
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/fixtures.js';

const CONFIG_INTERFACES: readonly { file: string; name: string }[] = [
  { file: 'apps/gateway/src/config.ts', name: 'GatewayConfig' },
  { file: 'apps/workers/src/config.ts', name: 'WorkersConfig' },
  { file: 'apps/stats/src/config.ts', name: 'StatsConfig' },
  { file: 'apps/mapreduce/src/config.ts', name: 'MapreduceConfig' },
];

/** Code that runs in production: apps, shared and the CLI, never their tests. */
function isProductCode(fileName: string): boolean {
  const relative = path.relative(REPO_ROOT, fileName);
  return /^(apps\/[^/]+|shared|cli)\/src\//.test(relative);
}

function languageService(): ts.LanguageService {
  const configPath = path.join(REPO_ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO_ROOT);
  const files = parsed.fileNames.filter(isProductCode);
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => files,
    getScriptVersion: () => '1',
    getScriptSnapshot: (file) => {
      const text = ts.sys.readFile(file);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => REPO_ROOT,
    getCompilationSettings: () => parsed.options,
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    fileExists: (file) => ts.sys.fileExists(file),
    readFile: (file) => ts.sys.readFile(file),
    readDirectory: (...args) => ts.sys.readDirectory(...args),
    directoryExists: (dir) => ts.sys.directoryExists(dir),
    // Workspace packages are symlinks in node_modules: without realpath they would be second copies.
    realpath: (file) => ts.sys.realpath?.(file) ?? file,
    getDirectories: (dir) => ts.sys.getDirectories(dir),
  };
  return ts.createLanguageService(host, ts.createDocumentRegistry());
}

/**
 * The interface's own fields. Fields of nested literals ({ maxSize, maxWaitMs })
 * are left out: they are read through other, structurally equal types (the
 * Batcher's options), which references cannot follow.
 */
function propertySignatures(declaration: ts.InterfaceDeclaration): { name: string; node: ts.PropertySignature }[] {
  return declaration.members.filter((m): m is ts.PropertySignature => ts.isPropertySignature(m) && ts.isIdentifier(m.name)).map((node) => ({ name: node.name.getText(), node }));
}

/** True when the reference is the name in an object literal (`{ field: value }`): it gives the field a value, it does not read it. */
function fillsTheField(program: ts.Program, reference: ts.ReferenceEntry): boolean {
  const source = program.getSourceFile(reference.fileName);
  if (!source) return false;
  const find = (node: ts.Node): ts.Node | undefined =>
    node.getStart(source) === reference.textSpan.start && node.getEnd() === reference.textSpan.start + reference.textSpan.length
      ? node
      : node.forEachChild((child) => (child.getStart(source) <= reference.textSpan.start && child.getEnd() >= reference.textSpan.start ? find(child) : undefined));
  const node = find(source);
  const parent = node?.parent;
  return parent !== undefined && (ts.isPropertyAssignment(parent) || ts.isShorthandPropertyAssignment(parent)) && parent.name === node;
}

describe('every config field is read by the app', () => {
  it('has a reader outside the config module for each field of each app config', () => {
    const service = languageService();
    const program = service.getProgram();
    if (!program) throw new Error('no program');
    const unread: string[] = [];
    let checked = 0;
    for (const { file, name } of CONFIG_INTERFACES) {
      const configFile = path.join(REPO_ROOT, file);
      const source = program.getSourceFile(configFile);
      if (!source) throw new Error(`${file} is not in the program`);
      const declaration = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
      if (!declaration) throw new Error(`${name} not found in ${file}`);
      for (const property of propertySignatures(declaration)) {
        checked += 1;
        const references = service.getReferencesAtPosition(configFile, property.node.name.getStart(source)) ?? [];
        // A read in the config module itself counts when it is code (e.g. the writer id from hostId), not the literal that fills the field.
        const declaredAt = property.node.name.getStart(source);
        const isDeclaration = (ref: ts.ReferenceEntry): boolean => ref.fileName === configFile && ref.textSpan.start === declaredAt;
        const readers = references.filter((ref) => !isDeclaration(ref) && !ref.isWriteAccess && isProductCode(ref.fileName) && !fillsTheField(program, ref));
        if (readers.length === 0) unread.push(`${name}.${property.name} (${file})`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(unread, `config fields parsed but never read:\n${unread.join('\n')}`).toEqual([]);
  }, 120_000);
});
