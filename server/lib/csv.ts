/**
 * One CSV cell: quoted when needed, and a cell a spreadsheet would run as a formula
 * (starting with = + - @, or a tab / carriage return) is prefixed with a single quote.
 */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : String(value)
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\r\n`
