/**
 * The little Markdown the OpenAPI document's descriptions use (shared/api/openapi.ts): paragraphs,
 * `-` lists, pipe tables, `code`, **bold**, *italic* and [links](…). Everything is HTML-escaped
 * first and only these tags are produced, so the result is safe for v-html; a link keeps only
 * http(s), relative and #anchor targets.
 */
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

function inline(text: string): string {
  // Code spans first, kept aside so nothing inside them is formatted.
  const codes: string[] = []
  let s = text.replace(/`([^`]+)`/g, (_, c: string) => `\uE000${codes.push(c) - 1}\uE000`)
  s = escape(s)
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
  s = s.replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)/g, '$1<em>$2</em>')
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (all, label: string, href: string) => {
    const raw = href.replace(/&amp;/g, '&')
    if (!/^(https?:\/\/|\/|#)/.test(raw)) return all
    const external = /^https?:/.test(raw)
    return `<a href="${href}"${external ? ' target="_blank" rel="noopener noreferrer"' : ''}>${label}</a>`
  })
  return s.replace(/\uE000(\d+)\uE000/g, (_, i: string) => `<code>${escape(codes[Number(i)]!)}</code>`)
}

const cells = (row: string) => row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map(c => c.trim())

export function markdownToHtml(md: string): string {
  const lines = md.replace(/\r\n?/g, '\n').split('\n')
  const out: string[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (!line.trim()) {
      i++
      continue
    }
    // A pipe table: header row, a --- separator row, body rows.
    if (line.trim().startsWith('|') && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? '')) {
      const head = cells(line)
      i += 2
      const rows: string[][] = []
      while (i < lines.length && lines[i]!.trim().startsWith('|')) rows.push(cells(lines[i++]!))
      out.push(`<table><thead><tr>${head.map(h => `<th>${inline(h)}</th>`).join('')}</tr></thead><tbody>${rows.map(r => `<tr>${r.map(c => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`)
      continue
    }
    if (/^\s*[-*] /.test(line)) {
      const items: string[] = []
      while (i < lines.length && /^\s*[-*] /.test(lines[i]!)) items.push(lines[i++]!.replace(/^\s*[-*] /, ''))
      out.push(`<ul>${items.map(it => `<li>${inline(it)}</li>`).join('')}</ul>`)
      continue
    }
    const para = [line.trim()]
    i++
    while (i < lines.length && lines[i]!.trim() && !/^\s*[-*] /.test(lines[i]!) && !lines[i]!.trim().startsWith('|')) para.push(lines[i++]!.trim())
    out.push(`<p>${inline(para.join(' '))}</p>`)
  }
  return out.join('')
}
