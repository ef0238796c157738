import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { csvField, renderTable } from '../../src/cli/format.ts';
import { escapeControl } from '../../src/cli/terminal-text.ts';
import { resources } from '../../src/core/resources.ts';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { killRunningClis, runCliProcess, tempDir, type CliResult } from './helpers/cli-process.ts';

const ESC = '\u001b';
const EVIL_TEAM = '=HYPERLINK("http://evil.invalid/?x","click")';
/** Sets the window title, turns text red, erases the line, and overrides the text direction. */
const EVIL_OUTPUT = `${ESC}]0;pwned\u0007hello ${ESC}[31mred${ESC}[2K\r\u202Eevil\nsecond line\n`;

describe('cli output hygiene', () => {
  describe('csvField', () => {
    const cases: { name: string; cell: string | number | null; want: string }[] = [
      { name: 'a formula', cell: '=1+2', want: `"'=1+2"` },
      { name: 'a formula with quotes', cell: EVIL_TEAM, want: `"'=HYPERLINK(""http://evil.invalid/?x"",""click"")"` },
      { name: 'a plus', cell: '+cmd|x', want: `"'+cmd|x"` },
      { name: 'a minus formula', cell: '-2+3', want: `"'-2+3"` },
      { name: 'an at', cell: '@SUM(A1)', want: `"'@SUM(A1)"` },
      { name: 'a tab', cell: '\t=1', want: `"'\t=1"` },
      { name: 'a carriage return', cell: '\r=1', want: `"'\r=1"` },
      { name: 'a lone dash', cell: '-', want: '-' },
      { name: 'a negative number as text', cell: '-1.5', want: '-1.5' },
      { name: 'a negative number', cell: -5, want: '-5' },
      { name: 'a plain text', cell: 'ml', want: 'ml' },
      { name: 'a formula sign inside', cell: 'a=b', want: 'a=b' },
      { name: 'a comma', cell: 'a,b', want: '"a,b"' },
    ];
    for (const c of cases) {
      it(`writes ${c.name} as ${c.want}`, () => assert.equal(csvField(c.cell), c.want));
    }
  });

  describe('escapeControl', () => {
    it('escapes ESC, BEL, CR, DEL, C1 and bidi overrides, keeping line feeds, tabs and other text', () => {
      assert.equal(
        escapeControl(`a${ESC}[31mb\u0007c\rd\u007fe\u009bf\u202Eg\u2066h\ti\nj é ✓`),
        'a\\x1b[31mb\\x07c\\x0dd\\x7fe\\x9bf\\u202eg\\u2066h\ti\nj é ✓',
      );
    });

    it('shows table cells escaped, so a command cannot drive the terminal', () => {
      const text = renderTable({ columns: [{ header: 'COMMAND' }], rows: [[`echo ${ESC}[2J`]] });
      assert.equal(text, 'COMMAND\necho \\x1b[2J\n');
    });
  });

  describe('through the CLI (child processes)', function () {
    this.timeout(120_000);
    let api: ApiHarness;
    let dir: ReturnType<typeof tempDir>;
    let taskId: string;

    before(async () => {
      api = await startApiHarness();
      dir = tempDir('spillway-cli-hygiene-');
      // A task of the evil team runs for an hour on a private agent, and prints escape sequences.
      const agent = api.store.agents.insert(
        {
          name: 'p1',
          location: { kind: 'private', site: 'lab' },
          capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
          labels: {},
          lifecycle: 'private',
          pricePerHourMicros: 0,
          state: 'registered',
          instanceId: null,
          providerId: null,
          intentId: null,
        },
        api.clock.now(),
      );
      const [task] = api.store.tasks.insert(
        [
          {
            owner: { team: EVIL_TEAM, project: 'p', job: 'j' },
            resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
            priority: 0,
            revocable: false,
            constraints: {},
            command: ['printf', `${ESC}[2J`],
          },
        ],
        api.clock.now(),
      );
      assert.ok(task);
      taskId = task.id;
      api.store.tasks.place(task.id, agent.id, api.clock.now());
      api.store.tasks.claim(agent.id, api.clock.now());
      api.clock.advance(3_600_000);
      api.store.tasks.finish(task.id, agent.id, { exitCode: 0, outputTail: EVIL_OUTPUT }, api.clock.now());
    });
    after(async () => {
      killRunningClis();
      await api?.close();
      dir?.remove();
    });

    async function ok(args: readonly string[]): Promise<string> {
      const result: CliResult = await runCliProcess(args, {
        cwd: dir.path,
        env: { SPILLWAY_URL: api.server.url, SPILLWAY_TOKEN: api.tokens.admin },
      });
      assert.equal(result.code, 0, `spillway ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    }

    it('neutralizes a team named as a formula in the chargeback CSV', async () => {
      const csv = await ok(['report', 'chargeback', '--by', 'team', '--format', 'csv']);
      const row = csv.split('\r\n').find((line) => line.includes('HYPERLINK'));
      assert.ok(row, csv);
      assert.ok(row.startsWith(`"'=HYPERLINK(""http://evil.invalid/?x"",""click"")",`), row);
    });

    it('shows a task with its output and command escaped, and as it is with --raw', async () => {
      const shown = await ok(['tasks', 'show', taskId]);
      assert.ok(!shown.includes(ESC) && !shown.includes('\u0007') && !shown.includes('\u202E'), JSON.stringify(shown));
      assert.match(
        shown,
        /output \(tail\):\n\\x1b\]0;pwned\\x07hello \\x1b\[31mred\\x1b\[2K\\x0d\\u202eevil\nsecond line\n$/,
      );
      assert.match(shown, /^command +printf '\\x1b\[2J'$/m);
      const raw = await ok(['tasks', 'show', taskId, '--raw']);
      assert.ok(raw.endsWith(`output (tail):\n${EVIL_OUTPUT}`), JSON.stringify(raw));
      const listed = await ok(['tasks']);
      assert.ok(!listed.includes(ESC), JSON.stringify(listed));
    });
  });
});
