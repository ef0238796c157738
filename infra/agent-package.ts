// Makes the package the boot script installs: `npm run pack:agent` (or `node infra/agent-package.ts [OUT_DIR]`).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

export interface AgentPackage {
  /** The `.tgz`: a `package/` folder with bin/, dist/, data/, package.json and node_modules/ (production only). */
  readonly file: string;
  /** Its SHA-256, hex: the `agentPackage.sha256` of the stack config. */
  readonly sha256: string;
}

export interface AgentPackageOptions {
  /** The checkout to build (its node_modules must be installed: `npm ci`). */
  readonly repo: string;
  /** Where the `.tgz` is written. */
  readonly outDir: string;
}

/**
 * Builds Spillway (`tsc -p tsconfig.build.json`, what `npm run build` runs, into a staging folder so the checkout is
 * left as it is) and packs it with its production dependencies, copied from the checkout's node_modules: instances
 * install it without a package registry, which private subnets without internet egress need. Synchronous; throws
 * what the build, the copy or tar throws.
 */
export function packAgent(opts: AgentPackageOptions): AgentPackage {
  const repo = resolve(opts.repo);
  const staging = mkdtempSync(join(tmpdir(), 'spillway-agent-package-'));
  try {
    const root = join(staging, 'package');
    mkdirSync(root, { recursive: true });
    execFileSync(
      process.execPath,
      [
        join(repo, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(repo, 'tsconfig.build.json'),
        '--outDir',
        join(root, 'dist'),
      ],
      { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['devDependencies', 'workspaces', 'scripts']) delete manifest[key];
    writeFileSync(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const path of ['bin', 'data', 'README.md']) cpSync(join(repo, path), join(root, path), { recursive: true });
    for (const dir of productionDependencyDirs(repo)) {
      cpSync(join(repo, dir), join(root, dir), { recursive: true, dereference: true });
    }
    mkdirSync(opts.outDir, { recursive: true });
    const file = resolve(opts.outDir, `spillway-${String(manifest.version)}.tgz`);
    execFileSync('tar', ['-czf', file, '-C', staging, 'package']);
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    return { file, sha256 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The top-level node_modules folders of the production dependency tree (nested ones come with their parents). */
function productionDependencyDirs(repo: string): string[] {
  // npm ls exits 1 on tree problems it only warns about (an extraneous package): the listing is still whole.
  const ls = spawnSync(
    'npm',
    ['ls', '--omit=dev', '--all', '--parseable', '--workspaces=false', '--include-workspace-root'],
    { cwd: repo, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const listing = ls.stdout ?? '';
  if (!listing.includes(`${sep}node_modules${sep}`)) {
    throw new Error(`listing the production dependencies with npm ls failed: ${ls.stderr || String(ls.error)}`);
  }
  const dirs = new Set<string>();
  for (const line of listing.split('\n')) {
    const rel = relative(repo, line.trim());
    if (!rel.startsWith(`node_modules${sep}`) || rel.split(sep).filter((s) => s === 'node_modules').length !== 1)
      continue;
    dirs.add(rel);
  }
  return [...dirs].sort();
}

if (import.meta.main) {
  const built = packAgent({ repo: resolve(import.meta.dirname, '..'), outDir: resolve(process.argv[2] ?? '.') });
  process.stdout.write(`${built.file}\nsha256 ${built.sha256}\n`);
}
