// Root reads files of any mode, so a "permission denied" test must run without the
// capabilities that allow it. Dropping them from the bounding set keeps uid 0, which still
// owns (and can enter) the test's folders whatever their mode; switching to `nobody` could not
// enter a clone inside a 0700 folder.

/** The command and arguments that run `file args...` unable to read a file its modes deny. */
export function withoutReadOverride(file: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [file, args];
  return ['setpriv', ['--bounding-set=-dac_override,-dac_read_search', file, ...args]];
}
