import { writeFileSync } from 'node:fs';

export interface Row {
  figure: string;
  spool: string;
  baseline: string;
  comparison: string;
  goal: string;
  /** undefined when the figure could not be measured */
  met?: boolean;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** figure | Spool | baseline | ratio/added | goal, as a Markdown table. */
export function renderTable(rows: Row[]): string {
  const lines = ['| figure | Spool | baseline | ratio/added | goal |', '| --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    const verdict = row.met === undefined ? ' (not measured)' : row.met ? ' ✅' : ' ❌';
    lines.push(`| ${[row.figure, row.spool, row.baseline, row.comparison, row.goal + verdict].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface ResultsDocument {
  title: string;
  /** lines describing the run: date, machine, parameters */
  about: string[];
  table: string;
  /** titled sections of detail, each a list of lines */
  details: { title: string; lines: string[] }[];
}

export function renderDocument(document: ResultsDocument): string {
  const parts = [`# ${document.title}`, '', ...document.about.map((line) => `- ${line}`), '', document.table, ''];
  for (const section of document.details) {
    if (section.lines.length === 0) continue;
    parts.push(`## ${section.title}`, '', ...section.lines, '');
  }
  return parts.join('\n');
}

export function writeResults(path: string, document: ResultsDocument): void {
  writeFileSync(path, renderDocument(document));
}
