/**
 * Named failpoints for crash tests, compiled into the product and switched on only by the environment:
 * `SPILLWAY_FAILPOINTS=intent.written=kill,provider.returned=kill@2` kills the process with SIGKILL the first (or
 * second) time execution reaches that point; `=throw` throws instead; `=stop` stops the process (SIGSTOP) there, and
 * it goes on from that point when continued (SIGCONT): a controller paused mid-pass. Unset, a failpoint costs one map
 * lookup.
 */
interface Rule {
  readonly action: 'kill' | 'throw' | 'stop';
  readonly onHit: number;
}

let rules: Map<string, Rule> | undefined;
const hits = new Map<string, number>();

function parseRules(spec: string): Map<string, Rule> {
  const parsed = new Map<string, Rule>();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^([a-z0-9.-]+)=(kill|throw|stop)(?:@(\d+))?$/.exec(item);
    if (!match) {
      throw new Error(`reading SPILLWAY_FAILPOINTS: cannot parse ${JSON.stringify(item)} (want name=kill|throw|stop[@N])`);
    }
    parsed.set(match[1]!, { action: match[2] as Rule['action'], onHit: Number(match[3] ?? 1) });
  }
  return parsed;
}

/** Marks a point where a crash test may stop the process. */
export function failpoint(name: string): void {
  rules ??= parseRules(process.env.SPILLWAY_FAILPOINTS ?? '');
  const rule = rules.get(name);
  if (!rule) return;
  const hit = (hits.get(name) ?? 0) + 1;
  hits.set(name, hit);
  if (hit !== rule.onHit) return;
  if (rule.action === 'kill') {
    process.stderr.write(`failpoint ${name}: killing process ${process.pid}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  if (rule.action === 'stop') {
    process.stderr.write(`failpoint ${name}: stopping process ${process.pid}\n`);
    process.kill(process.pid, 'SIGSTOP');
    return;
  }
  throw new Error(`failpoint ${name} reached`);
}

/** Re-reads the environment; for tests that set SPILLWAY_FAILPOINTS in-process. */
export function resetFailpoints(): void {
  rules = undefined;
  hits.clear();
}
