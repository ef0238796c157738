import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'mocha';

/**
 * The planner's files depend on each other one way (issue 15, layout): no file of src/autoscaler/planner*.ts imports,
 * directly or through others, a file that imports it back. Read from the sources themselves, as a lint would.
 */

const DIR = fileURLToPath(new URL('../../src/autoscaler/', import.meta.url));

/** The planner files' imports of each other (relative `./planner*.ts` specifiers, type-only ones included). */
function plannerImports(): Map<string, string[]> {
  const files = readdirSync(DIR).filter((f) => /^planner.*\.ts$/.test(f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(DIR, file), 'utf8');
    const targets = [...text.matchAll(/\bfrom\s+'\.\/(planner[^']*\.ts)'/g)].map((m) => m[1]!);
    graph.set(
      file,
      [...new Set(targets)].filter((t) => files.includes(t)),
    );
  }
  return graph;
}

/** One cycle of `graph` as the files along it (first repeated at the end), or undefined when there is none. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('planner layout', () => {
  it('the cycle check finds a cycle through several files and none in a chain', () => {
    const cyclic = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    assert.deepEqual(findCycle(cyclic), ['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    const chain = new Map([
      ['a.ts', ['b.ts', 'c.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', []],
    ]);
    assert.equal(findCycle(chain), undefined);
  });

  it('reads the imports: the packer imports its model, the shared types and the slicing of steps', () => {
    const graph = plannerImports();
    assert.deepEqual([...graph.get('planner-packing.ts')!].sort(), [
      'planner-one-type.ts',
      'planner-packing-model.ts',
      'planner-packing-types.ts',
      'planner-slices.ts',
    ]);
    // The slicing of steps is a leaf: it knows nothing of planning.
    assert.deepEqual(graph.get('planner-slices.ts'), []);
    assert.ok(graph.get('planner.ts')!.includes('planner-packing.ts'));
  });

  it('no planner file imports one that imports it back; the packing model never imports the packer', () => {
    const graph = plannerImports();
    assert.equal(findCycle(graph), undefined);
    assert.ok(!graph.get('planner-packing-model.ts')!.includes('planner-packing.ts'));
    assert.ok(!graph.get('planner-one-type.ts')!.includes('planner-packing.ts'));
  });
});
