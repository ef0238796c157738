import assert from 'node:assert/strict';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'mocha';
import { LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { DEMO_CONFIG_INPUT, parseConfig } from '../../src/config/load.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { cliProblems, expandSynopsis, shellWords } from '../helpers/cli-line.ts';
import { codeSpans, readMarkdown, type MarkdownDoc } from '../helpers/markdown.ts';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';

/**
 * The README is checked against the code it describes: every `spillway` command line it shows parses through the
 * real CLI program, every YAML block passes the real config schema, every repository path it names exists, and its
 * API table lists exactly the routes the real server serves, with the access each route really has. Each failure
 * names the README line.
 *
 * Markers the README may put above a block or table, as an HTML comment `<!-- readme-check: ... -->`:
 * - `config fragment`: a YAML block that is part of spillway.yaml (checked with a clusterId added);
 * - `demo config`: a YAML block that must equal the embedded demo configuration (DEMO_CONFIG_INPUT) exactly;
 * - `flags of spillway CMD ...`: a table whose first column lists flags of that command line.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = 'README.md';

function readme(): MarkdownDoc {
  return readMarkdown(readFileSync(resolve(ROOT, README), 'utf8'));
}

interface CommandLine {
  readonly line: number;
  readonly text: string;
  /** The words after `spillway`. */
  readonly args: readonly string[];
}

const SPILLWAY = /^(?:npx\s+)?spillway(?:\s+|$)/;

/** `spillway ...` words of one shell line: each command of a pipeline or `&&` list, comments dropped. */
function shellCommands(line: string): string[] {
  const withoutComment = line.replace(/(^|\s)#.*$/, '');
  return withoutComment
    .split(/\s(?:\||&&|;)\s/)
    .map((part) => part.trim())
    .filter((part) => SPILLWAY.test(part));
}

/** Every spillway command line the README shows: code blocks, inline code, the CLI table and flag tables. */
function commandLines(doc: MarkdownDoc): CommandLine[] {
  const found: CommandLine[] = [];
  const add = (line: number, text: string): void => {
    found.push({ line, text, args: shellWords(text.replace(/\\\|/g, '|').replace(SPILLWAY, '')) });
  };
  for (const block of doc.blocks) {
    // A plain fence holds output as often as commands: only its `npx spillway` lines are commands.
    const shell = ['sh', 'bash', 'shell'].includes(block.lang);
    if (!shell && block.lang !== '') continue;
    block.lines.forEach((text, i) => {
      if (!shell && !/^\s*npx\s+spillway\s/.test(text)) return;
      for (const command of shellCommands(text)) add(block.firstLine + i, command);
    });
  }
  const tableLines = new Set(doc.tables.flatMap((t) => t.rows.map((r) => r.line)));
  for (const span of doc.spans) {
    if (!tableLines.has(span.line) && SPILLWAY.test(span.text)) add(span.line, span.text);
  }
  for (const table of doc.tables) {
    const flagsOf = /^flags of (spillway .*)$/.exec(table.marker ?? '')?.[1];
    for (const row of table.rows) {
      const first = row.cells[0] ?? '';
      for (const span of codeSpans(first)) {
        if (table.header[0] === 'command') add(row.line, `spillway ${span}`);
        else if (flagsOf !== undefined) add(row.line, `${flagsOf} ${span}`);
      }
      for (const cell of row.cells.slice(1)) {
        for (const span of codeSpans(cell)) if (SPILLWAY.test(span)) add(row.line, span);
      }
    }
  }
  return found;
}

/** The README line of the YAML node at a dotted field path (as ValidationError names it), or the block's first. */
function lineOfField(text: string, firstLine: number, field: string): number {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const path = field.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  for (let n = path.length; n > 0; n -= 1) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    const offset = node?.range?.[0];
    if (offset !== undefined) return firstLine + counter.linePos(offset).line - 1;
  }
  return firstLine;
}

/** Paths into the repository named anywhere in the README (prose, tables and blocks). */
const PATH =
  /(?<![\w./$~-])(?:\.\.\/)*(?:src|test|data|scripts|infra|bench|docs|bin|\.ci)\/[\w.*@/-]*|(?<![\w.$~-])\.\.\/[\w.*@/-]+/g;

/** The route table's access phrases, as the README writes them, in the server's own access kinds. */
function accessOfPhrase(phrase: string): string | undefined {
  const p = phrase.trim();
  if (p === 'none') return 'public';
  if (/own token/.test(p)) return 'own-agent';
  if (/registration token|bootstrap credential/.test(p)) return 'register';
  const roles = p === 'all human roles' ? ['admin', 'submitter', 'finance'] : p.split(/\s*,\s*|\s+and\s+/);
  if (roles.some((r) => !['admin', 'submitter', 'finance'].includes(r))) return undefined;
  return `roles ${[...roles].sort().join(', ')}`;
}

/** The access of an OpenAPI operation, from the description the server writes (`Access: roles admin, finance.`). */
function accessOfOperation(description: string): string {
  const text = /^Access: (.*)\.$/.exec(description)?.[1] ?? description;
  if (text.startsWith('roles ')) {
    return `roles ${text.slice('roles '.length).split(', ').sort().join(', ')}`;
  }
  if (text.startsWith('anyone')) return 'public';
  if (text.includes('issued to agent')) return 'own-agent';
  if (text.includes('bootstrap credential')) return 'register';
  return text;
}

interface TableRoute {
  readonly line: number;
  readonly method: string;
  /** With `{}` for every parameter, so `{id or name}` matches `{id}`. */
  readonly path: string;
  readonly query: readonly string[];
  readonly access: string | undefined;
  readonly phrase: string;
}

const normalizePath = (path: string): string => path.replace(/\{[^}]*\}/g, '{}');

/** The routes of the README's API table: `GET /a`, `POST /b/{id}/x`, `/y` (same method, beside /x), `GET`/`PUT /c`. */
function tableRoutes(doc: MarkdownDoc): TableRoute[] {
  const table = doc.tables.find((t) => t.header[0] === 'route');
  assert.ok(table, `${README}: no API table (a table whose first column is "route")`);
  const routes: TableRoute[] = [];
  for (const row of table.rows) {
    const groups = (row.cells[0] ?? '').split(/\s+\/\s+(?=`)/);
    const phrases = (row.cells[1] ?? '').split(/\s+\/\s+/);
    assert.equal(
      phrases.length === groups.length || phrases.length === 1,
      true,
      `${README}:${row.line}: ${groups.length} route groups but ${phrases.length} role groups`,
    );
    groups.forEach((group, g) => {
      const phrase = phrases.length === 1 ? (phrases[0] ?? '') : (phrases[g] ?? '');
      const spans = codeSpans(group);
      let base = '';
      let lastMethod = '';
      const pendingMethods: string[] = [];
      for (const span of spans) {
        const full = /^(GET|POST|PUT|DELETE)?\s*(\/.*)?$/.exec(span.trim());
        assert.ok(full, `${README}:${row.line}: cannot read route ${JSON.stringify(span)}`);
        const [, method, target] = full;
        if (target === undefined) {
          pendingMethods.push(method ?? '');
          continue;
        }
        const [pathPart = '', queryPart] = target.split('?');
        let path = pathPart;
        if (method) {
          base = path.replace(/\/[^/]+$/, '');
          lastMethod = method;
        } else {
          path = base + path;
        }
        const query = queryPart ? [...queryPart.matchAll(/(?:^|&)([^=&]+)=/g)].map((m) => m[1] ?? '') : [];
        for (const m of [...pendingMethods, method ?? lastMethod]) {
          routes.push({
            line: row.line,
            method: m,
            path: normalizePath(path.replace(/\{[^}]*\}/g, (p) => p.replace(/\s+/g, '_'))),
            query,
            access: accessOfPhrase(phrase),
            phrase,
          });
        }
        pendingMethods.length = 0;
      }
    });
  }
  return routes;
}

interface OpenApiOperation {
  readonly description: string;
  readonly parameters?: readonly { readonly name: string; readonly in: string }[];
}

describe('README', () => {
  it('shows only spillway command lines the real CLI parses, with flags of the command they are given to', async () => {
    const lines = commandLines(readme());
    assert.ok(lines.length >= 30, `expected the README's command lines, found ${lines.length}`);
    const problems: string[] = [];
    for (const line of lines) {
      for (const args of expandSynopsis(line.args)) {
        for (const problem of await cliProblems(args)) {
          problems.push(`${README}:${line.line}: \`${line.text}\` (as spillway ${args.join(' ')}): ${problem}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('shows only YAML that the config schema accepts, and the embedded demo configuration as it is', () => {
    const doc = readme();
    const yamlBlocks = doc.blocks.filter((b) => b.lang === 'yaml');
    assert.ok(yamlBlocks.length >= 5, `expected the README's YAML blocks, found ${yamlBlocks.length}`);
    const problems: string[] = [];
    let demoBlocks = 0;
    for (const block of yamlBlocks) {
      const text = block.lines.join('\n');
      const parsed = parseDocument(text);
      if (parsed.errors.length > 0) {
        problems.push(`${README}:${block.firstLine}: not YAML: ${parsed.errors[0]?.message ?? ''}`);
        continue;
      }
      const value: unknown = parsed.toJS();
      const input =
        block.marker === 'config fragment' && typeof value === 'object' && value !== null
          ? { clusterId: 'readme', ...value }
          : value;
      try {
        parseConfig(input);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const at = lineOfField(text, block.firstLine, err.field);
        problems.push(`${README}:${at}: ${block.marker ?? 'config'} block at line ${block.firstLine}: ${err.message}`);
      }
      if (block.marker === 'demo config') {
        demoBlocks += 1;
        try {
          assert.deepEqual(value, JSON.parse(JSON.stringify(DEMO_CONFIG_INPUT)));
        } catch (err) {
          problems.push(
            `${README}:${block.firstLine}: differs from DEMO_CONFIG_INPUT (src/config/load.ts): ${String(err)}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(demoBlocks, 1, 'the README shows the embedded demo configuration once, marked `demo config`');
  });

  /** Problems with the repository paths `file` names (paths relative to the repository's root). */
  function pathProblems(file: string): { problems: string[]; checked: number } {
    const problems: string[] = [];
    let checked = 0;
    readFileSync(resolve(ROOT, file), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        for (const match of text.matchAll(PATH)) {
          // `> ../outputs.json` writes a file the command makes; it names nothing in the repository.
          if (/>\s*$/.test(text.slice(0, match.index))) continue;
          const named = match[0].replace(/[.,:;]+$/, '');
          const target = resolve(ROOT, named);
          checked += 1;
          if (relative(ROOT, target).startsWith('..')) {
            problems.push(`${file}:${i + 1}: ${named} is outside the repository (a clone does not have it)`);
          } else if (named.includes('*') ? globSync(named, { cwd: ROOT }).length === 0 : !existsSync(target)) {
            problems.push(`${file}:${i + 1}: ${named} does not exist`);
          }
        }
      });
    return { problems, checked };
  }

  it('names only repository paths that exist', () => {
    const { problems, checked } = pathProblems(README);
    assert.ok(checked >= 40, `expected the README's paths, found ${checked}`);
    assert.deepEqual(problems, []);
  });

  it('points to docs/architecture.md, which names only repository paths that exist', () => {
    assert.match(readFileSync(resolve(ROOT, README), 'utf8'), /`docs\/architecture\.md`/);
    const { problems, checked } = pathProblems('docs/architecture.md');
    assert.ok(checked >= 20, `expected the architecture's paths, found ${checked}`);
    assert.deepEqual(problems, []);
  });

  describe('API table', () => {
    let h: ApiHarness;
    let operations: Map<string, OpenApiOperation>;
    before(async () => {
      h = await startApiHarness();
      const doc = await h.client().get<{ paths: Record<string, Record<string, OpenApiOperation>> }>('/v1/openapi.json');
      operations = new Map();
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item))
          operations.set(`${method.toUpperCase()} ${normalizePath(path)}`, op);
      }
    });
    after(async () => {
      await h.close();
    });

    it('lists routes the server has, with the access the server gives them and query parameters it takes', () => {
      const problems: string[] = [];
      for (const route of tableRoutes(readme())) {
        const key = `${route.method} ${route.path}`;
        const op = operations.get(key);
        if (!op) {
          problems.push(`${README}:${route.line}: ${key}: the server has no such route`);
          continue;
        }
        const served = accessOfOperation(op.description);
        if (route.access !== served) {
          problems.push(
            `${README}:${route.line}: ${key}: the table says "${route.phrase}", the server gives ${served}`,
          );
        }
        const params = new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
        for (const q of route.query) {
          if (!params.has(q))
            problems.push(`${README}:${route.line}: ${key}: the server takes no query parameter ${q}`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it('lists every route the server has', () => {
      const listed = new Set(tableRoutes(readme()).map((r) => `${r.method} ${r.path}`));
      const missing = [...operations.keys()].filter((key) => !listed.has(key));
      assert.ok(operations.size >= 25, `expected the server's routes, got ${operations.size}`);
      assert.deepEqual(missing, [], `${README}: the API table lacks these routes of the server`);
    });
  });
});
