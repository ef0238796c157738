import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  csvField,
  formatAge,
  quoteArgv,
  render,
  renderCsv,
  renderFields,
  renderJson,
  renderTable,
  type Table,
} from '../../src/cli/format.ts';

const sample: Table = {
  columns: [{ header: 'ID' }, { header: 'CPU', align: 'right' }, { header: 'NOTE' }],
  rows: [
    ['t-1', 2, 'short'],
    ['t-long-id', 0.25, null],
  ],
};

describe('cli format', () => {
  describe('renderTable', () => {
    const cases: { name: string; table: Table; want: string }[] = [
      {
        name: 'pads every column to its widest cell, right-aligning numbers, with no trailing spaces',
        table: sample,
        want: 'ID          CPU  NOTE\nt-1           2  short\nt-long-id  0.25\n',
      },
      {
        name: 'prints only the header for no rows',
        table: { columns: [{ header: 'ID' }, { header: 'STATE' }], rows: [] },
        want: 'ID  STATE\n',
      },
      {
        name: 'shows a line break inside a cell as \\n so a row stays one line',
        table: { columns: [{ header: 'A' }, { header: 'B' }], rows: [['x\ny', 'z']] },
        want: 'A     B\nx\\ny  z\n',
      },
      {
        name: 'counts a non-ASCII character once',
        table: {
          columns: [{ header: 'NAME' }, { header: 'OK' }],
          rows: [
            ['café', '✓'],
            ['ab', 'x'],
          ],
        },
        want: 'NAME  OK\ncafé  ✓\nab    x\n',
      },
      {
        name: 'prints false and 0, not blanks',
        table: { columns: [{ header: 'A' }, { header: 'B' }], rows: [[false, 0]] },
        want: 'A      B\nfalse  0\n',
      },
    ];
    for (const c of cases) it(c.name, () => assert.equal(renderTable(c.table), c.want));
  });

  describe('csv (RFC 4180)', () => {
    const fields: { name: string; cell: Parameters<typeof csvField>[0]; want: string }[] = [
      { name: 'plain text bare', cell: 'abc', want: 'abc' },
      { name: 'a comma quoted', cell: 'a,b', want: '"a,b"' },
      { name: 'a double quote doubled and quoted', cell: 'say "hi"', want: '"say ""hi"""' },
      { name: 'a line feed quoted', cell: 'a\nb', want: '"a\nb"' },
      { name: 'a carriage return quoted', cell: 'a\rb', want: '"a\rb"' },
      { name: 'null empty', cell: null, want: '' },
      { name: 'a number as written', cell: 0.25, want: '0.25' },
      { name: 'a boolean as written', cell: true, want: 'true' },
      { name: 'spaces kept bare', cell: ' a b ', want: ' a b ' },
    ];
    for (const c of fields) it(`writes ${c.name}`, () => assert.equal(csvField(c.cell), c.want));

    it('writes a header record, then one record per row, each ended by CRLF', () => {
      assert.equal(renderCsv(sample), 'ID,CPU,NOTE\r\nt-1,2,short\r\nt-long-id,0.25,\r\n');
    });
  });

  it('renders JSON indented, with a final newline', () => {
    assert.equal(renderJson({ a: [1] }), '{\n  "a": [\n    1\n  ]\n}\n');
  });

  it('renders the API answer as is for json, and the rows for table and csv', () => {
    const answer = { tasks: [{ id: 't-1' }] };
    const table = (): Table => ({ columns: [{ header: 'ID' }], rows: [['t-1']] });
    const csv = (): Table => ({ columns: [{ header: 'id' }], rows: [['t-1']] });
    assert.deepEqual(JSON.parse(render('json', answer, table, csv)), answer);
    assert.equal(render('table', answer, table, csv), 'ID\nt-1\n');
    assert.equal(render('csv', answer, table, csv), 'id\r\nt-1\r\n');
    assert.equal(render('csv', answer, table), 'ID\r\nt-1\r\n');
  });

  it('aligns key-value fields', () => {
    assert.equal(
      renderFields([
        ['id', 't-1'],
        ['exit code', 0],
        ['agent', null],
      ]),
      'id         t-1\nexit code  0\nagent\n',
    );
    assert.equal(renderFields([]), '');
  });

  const ages = [
    { ms: 0, want: '0s' },
    { ms: 59_999, want: '59s' },
    { ms: 60_000, want: '1m' },
    { ms: 3_599_999, want: '59m' },
    { ms: 3_600_000, want: '1h' },
    { ms: 86_400_000 * 3, want: '3d' },
    { ms: -5_000, want: '0s' },
  ];
  for (const c of ages) it(`shows ${c.ms} ms as ${c.want}`, () => assert.equal(formatAge(c.ms), c.want));

  const argvs = [
    { name: 'plain words bare', argv: ['python', 'train.py', '--lr=0.1'], want: 'python train.py --lr=0.1' },
    { name: 'spaces single-quoted', argv: ['echo', 'hello world'], want: "echo 'hello world'" },
    { name: 'a single quote escaped', argv: ['echo', "it's"], want: "echo 'it'\\''s'" },
    { name: 'an empty argument kept visible', argv: ['printf', ''], want: "printf ''" },
  ];
  for (const c of argvs) it(`quotes a command: ${c.name}`, () => assert.equal(quoteArgv(c.argv), c.want));
});
