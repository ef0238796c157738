// The chargeback report as CSV, for the download. No imports, so the tests can load it outside a browser.

/**
 * The report as CSV: a header of `team,project,job` and the `columns`' keys, then a row per report row. Every cell is
 * quoted (so a team name holding the separator a spreadsheet's locale uses, `;`, or a line break stays one cell), and
 * a cell a spreadsheet would read as a formula gets a leading quote (OWASP's CSV injection advice).
 */
export function csvOf(report, columns) {
  const cell = (value) => {
    let text = String(value ?? '');
    if (/^[=+\-@\t\r\n]/.test(text)) text = `'${text}`;
    return `"${text.replaceAll('"', '""')}"`;
  };
  const lines = [['team', 'project', 'job', ...columns.map(([key]) => key)].map(cell).join(',')];
  for (const row of report.rows) {
    lines.push([row.team, row.project, row.job, ...columns.map(([key]) => row[key])].map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}
