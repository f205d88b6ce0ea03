/**
 * Where a recipe installs Offsite from (pure). Only pinned sources: the repository at a full 40-hex commit, or a
 * release tarball whose SHA-256 is checked before npm sees it. Never a bare package name or a version from a
 * registry: whoever registers the name `offsite` there would receive every secret of every generated workflow.
 */

export type InstallSource =
  | { kind: 'git'; /** `git+https://…` or `git+ssh://…`, without the `#commit`. */ url: string; commit: string }
  | { kind: 'tarball'; /** `https://…` URL of an `npm pack` tarball. */ url: string; sha256: string };

const COMMIT = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** The one-line hint shown whenever the source is missing or unusable. */
export const INSTALL_SOURCE_FORMS =
  'git+https://HOST/OWNER/offsite.git#<40-hex commit> (or git+ssh://…#<commit>), or an https:// tarball URL with --install-sha256 <64-hex>';

/**
 * Parses `--install-from` (and `--install-sha256` for a tarball).
 * @throws Error with a one-line message when the source is not pinned.
 */
export function parseInstallSource(spec: string, sha256?: string): InstallSource {
  const text = spec.trim();
  const hash = text.indexOf('#');
  if (/^git\+(https|ssh):\/\//.test(text)) {
    const commit = hash < 0 ? '' : text.slice(hash + 1);
    if (!COMMIT.test(commit))
      throw new Error(
        `install source ${text} names no full commit: append #<40-hex commit> (a branch or tag can be moved)`,
      );
    if (sha256 !== undefined)
      throw new Error('--install-sha256 is for a tarball; a git source is pinned by its commit');
    const url = text.slice(0, hash);
    checkUrl(url);
    return { kind: 'git', url, commit };
  }
  if (/^https:\/\//.test(text) && hash < 0 && /\.(tgz|tar\.gz)$/.test(new URL(text).pathname)) {
    checkUrl(text);
    const digest = sha256?.trim().toLowerCase() ?? '';
    if (!SHA256.test(digest))
      throw new Error(`install source ${text} is a tarball: give its SHA-256 with --install-sha256 <64 hex digits>`);
    return { kind: 'tarball', url: text, sha256: digest };
  }
  throw new Error(`install source "${text}" is not pinned; use ${INSTALL_SOURCE_FORMS}`);
}

/** Only a URL's own characters, and never a quote: the shell lines single-quote the URL (`?`, `&`, `=` in a query). */
function checkUrl(url: string): void {
  if (!/^[A-Za-z0-9+.:/@_~%=?&-]+$/.test(url) || url.includes('..'))
    throw new Error(`install source ${url} holds characters a URL of a repository or tarball does not need`);
}

/** How the source is written in npm's terms (a git source) or as the URL (a tarball). */
export function describeInstallSource(source: InstallSource): string {
  return source.kind === 'git' ? `${source.url}#${source.commit}` : `${source.url} (sha256 ${source.sha256})`;
}

/**
 * Shell lines that install Offsite into the npm prefix `dir` (its command is then `dir/node_modules/.bin/offsite`).
 * A tarball is downloaded next to it and checked with `sha256sum -c` first; each line must succeed (`set -e`).
 * Not `npm install --global git+…`: npm then runs the package's `prepare` (the build) without its dev dependencies,
 * and it fails (npm 11).
 */
export function installCommands(source: InstallSource, dir: string): string[] {
  const npm = `npm install --prefix "${dir}" --no-audit --no-fund`;
  if (source.kind === 'git') return [`${npm} '${source.url}#${source.commit}'`];
  const file = `${dir}.tgz`;
  return [
    `curl -fsSL --retry 3 -o "${file}" '${source.url}'`,
    `echo "${source.sha256}  ${file}" | sha256sum -c -`,
    `${npm} "${file}"`,
  ];
}
