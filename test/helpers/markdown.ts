// Reads the project's Markdown as the docs tests need it: headings as GitHub slugs, relative links, and the curl
// walkthrough's steps (commands, their shown output, restarts of the service).

/** The text outside fenced code blocks, so that links and headings inside examples are left alone. */
export function withoutCodeBlocks (markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingSlugs (markdown: string): Set<string> {
  const slugs = new Set<string>()
  const seen = new Map<string, number>()
  for (const match of withoutCodeBlocks(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const text = (match[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    slugs.add(count === 0 ? base : `${base}-${count}`)
  }
  return slugs
}

/** Every inline link target outside code: `[text](target)`, inline code removed first. */
export function linkTargets (markdown: string): string[] {
  const text = withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, '')
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? '')
}

export type WalkthroughStep =
  /** A shell assignment to run before every command (B is then set to the service under test). */
  | { kind: 'setup', line: string }
  /** `[VAR=value ...] npm start`: (re)start the service with these variables. */
  | { kind: 'start', env: Record<string, string>, line: string }
  /** A command as typed after `$ `, and what the document shows it printing. */
  | { kind: 'command', command: string, expected: string, background: boolean }
  /** The shown output of the command started in the background. */
  | { kind: 'background-output', expected: string }

const START = /^((?:[A-Z_][A-Z0-9_]*=(?:'[^']*'|"[^"]*"|\S+)\s+)*)npm start$/
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/

function parseAssignments (text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const match of text.matchAll(/([A-Z_][A-Z0-9_]*)=('[^']*'|"[^"]*"|\S+)/g)) {
    const value = match[2] ?? ''
    env[match[1] ?? ''] = /^['"]/.test(value) ? value.slice(1, -1) : value
  }
  return env
}

/** A command goes on while its line ends with a backslash or a quote is left open. */
function incomplete (command: string): boolean {
  if (/\\$/.test(command)) return true
  let single = false
  let double = false
  for (let i = 0; i < command.length; i++) {
    const c = command[i]
    if (c === '\\' && !single) { i++; continue }
    if (c === "'" && !double) single = !single
    else if (c === '"' && !single) double = !double
  }
  return single || double
}

/**
 * The steps of a walkthrough, in document order. Fenced blocks tagged `sh` give setup lines (assignments) and
 * starts (`npm start` lines); other lines there are not run. Untagged blocks give `$ ` commands and their output.
 * `<!-- test: in the background -->` before a block runs its command in the background;
 * `<!-- test: the background command's output -->` marks the block that shows what it printed.
 */
export function walkthroughSteps (markdown: string): WalkthroughStep[] {
  const steps: WalkthroughStep[] = []
  const blocks = markdown.matchAll(/(<!-- test: ([^>]*?) -->\s*\n)?^```(\w*)\n([\s\S]*?)^```[ \t]*$/gm)
  for (const block of blocks) {
    const marker = block[2] ?? ''
    const language = block[3] ?? ''
    const lines = (block[4] ?? '').replace(/\n$/, '').split('\n')
    if (marker === "the background command's output") {
      steps.push({ kind: 'background-output', expected: lines.join('\n').trim() })
      continue
    }
    if (language === 'sh') {
      for (const raw of lines) {
        const line = raw.trim()
        const start = START.exec(line)
        if (start !== null) steps.push({ kind: 'start', env: parseAssignments(start[1] ?? ''), line })
        else if (ASSIGNMENT.test(line)) steps.push({ kind: 'setup', line })
      }
      continue
    }
    if (language !== '') continue
    let i = 0
    while (i < lines.length) {
      const line = lines[i] ?? ''
      if (!line.startsWith('$ ')) { i++; continue }
      let command = line.slice(2)
      i++
      while (incomplete(command) && i < lines.length) command += '\n' + (lines[i++] ?? '')
      const output: string[] = []
      while (i < lines.length && !(lines[i] ?? '').startsWith('$ ')) output.push(lines[i++] ?? '')
      steps.push({ kind: 'command', command, expected: output.join('\n').trim(), background: marker === 'in the background' })
    }
  }
  return steps
}

/** The part of a document under a heading, up to the next heading of the same or a higher level. */
export function section (markdown: string, heading: string): string {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => line === heading)
  if (start === -1) throw new Error(`no heading "${heading}"`)
  const level = /^#+/.exec(heading)?.[0].length ?? 1
  let inCode = false
  let end = lines.length
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.startsWith('```')) inCode = !inCode
    const hashes = /^(#+) /.exec(line)
    if (!inCode && hashes !== null && (hashes[1]?.length ?? 0) <= level) { end = i; break }
  }
  return lines.slice(start, end).join('\n')
}
