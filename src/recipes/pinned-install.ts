/**
 * Finds installs of Offsite from an unpinned source in a recipe's text (pure): a shell script, a workflow, or the
 * code blocks of a markdown page. A registry name can be registered by anyone, a tag or branch can be moved, a
 * tarball can be swapped: only a full commit, a tarball checked against its SHA-256 and an image by digest are pinned.
 */

export interface UnpinnedInstall {
  /** 1-based line in the text that was scanned. */
  line: number;
  text: string;
  why: string;
}

/** Package-manager commands that fetch and run or install a package named on their command line. */
const INSTALL = /\b(?:npm\s+(?:install|i|add|exec|x)|pnpm\s+(?:add|dlx|install)|yarn\s+(?:add|dlx)|bunx|npx)\b/;
const SHA256_CHECK = /\b(?:sha256sum|shasum\s+-a\s*256)\b[^\n]*\s-c\b|\bsha256sum\s+--check\b/;
const COMMIT_SUFFIX = /#[0-9a-f]{40}$/;

/**
 * Every unpinned install in `text`. A tarball counts as checked when a `sha256sum -c` comes before its install in
 * the same text (scan one code block at a time).
 */
export function findUnpinnedInstalls(text: string): UnpinnedInstall[] {
  const found: UnpinnedInstall[] = [];
  let checksumSeen = false;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '$1'); // shell and YAML comments (a `url#commit` has no space before #)
    const report = (why: string): void => {
      found.push({ line: index + 1, text: raw.trim(), why });
    };
    if (SHA256_CHECK.test(line)) checksumSeen = true;
    for (const why of imageProblems(line)) report(why);
    const install = INSTALL.exec(line);
    if (!install) return;
    const words = line
      .slice(install.index + install[0].length)
      .split(/[\s;|&)]+/)
      .map((word) => word.replace(/^["']|["']$/g, ''))
      .filter((word) => word !== '' && !word.startsWith('-'));
    if (install[0] === 'npx' || /^(?:npm\s+(?:exec|x)|pnpm\s+dlx|yarn\s+dlx|bunx)$/.test(install[0])) {
      if (words[0] !== undefined && /^offsite(?:@|$)/.test(words[0]))
        report(`${install[0]} ${words[0]} runs whatever the registry serves under that name`);
      return;
    }
    for (const word of words) {
      if (/^offsite(?:@.*)?$/.test(word)) report(`${word} is a registry name: anyone may own it`);
      else if (/^(?:git\+|git:|github:|gitlab:|bitbucket:)|^(?:https?|ssh):\/\/[^ ]*\.git\b/.test(word)) {
        if (!COMMIT_SUFFIX.test(word)) report(`${word} is a git source without a full 40-hex commit`);
      } else if (/\.(?:tgz|tar\.gz)$/.test(word)) {
        if (!checksumSeen) report(`${word} is a tarball installed without a sha256sum -c before it`);
      }
    }
  });
  return found;
}

/** Container images: none by `:latest`, and an Offsite image only by digest where it is run or deployed. */
function imageProblems(line: string): string[] {
  const problems: string[] = [];
  const refs = [
    ...[...line.matchAll(/\bimage:\s*["']?([^\s"'#]+)/g)].map((m) => m[1] ?? ''),
    ...[...line.matchAll(/\b(?:docker|podman)\s+(?:run|pull|create)\b[^\n]*/g)].flatMap((m) =>
      m[0].split(/\s+/).filter((word) => /^[a-z0-9.-]+(?::\d+)?\/[^\s]*offsite|^offsite[:@]/.test(word)),
    ),
  ];
  for (const ref of refs) {
    if (/:latest$/.test(ref)) problems.push(`${ref}: the latest tag changes under you`);
    else if (/(?:^|\/)offsite(?::[^@]*)?$/.test(ref) && !ref.includes('@sha256:'))
      problems.push(`${ref}: an Offsite image by tag, not by digest (@sha256:…)`);
  }
  return problems;
}

/** The fenced code blocks of a markdown page, each with the line it starts on (1-based, its first content line). */
export function markdownCodeBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  let open: { fence: string; line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((line, index) => {
    const fence = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (open) {
      if (fence && fence[0] === open.fence[0] && fence.length >= open.fence.length && line.trim() === fence) {
        blocks.push({ line: open.line, text: open.lines.join('\n') });
        open = undefined;
      } else open.lines.push(line);
    } else if (fence) open = { fence, line: index + 2, lines: [] };
  });
  return blocks;
}

/** Inline code spans of a markdown page (`like this`), outside code blocks: commands written in prose. */
export function markdownInlineCode(markdown: string): { line: number; text: string }[] {
  const spans: { line: number; text: string }[] = [];
  let inBlock = false;
  markdown.split('\n').forEach((line, index) => {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inBlock = !inBlock;
    else if (!inBlock)
      for (const match of line.matchAll(/(`+)([^`]+?)\1/g)) spans.push({ line: index + 1, text: match[2] ?? '' });
  });
  return spans;
}
