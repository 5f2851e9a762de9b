/**
 * A repository of `count` commits for the bisection tests: commit k writes `n.txt` = k, and the commit
 * at `slowAt` adds the marker file `slow` (kept by every later commit) that makes the measured value
 * 10 % higher. Returns the commit ids, oldest first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { git } from './git.ts';

export function bisectRepo(repo: string, count: number, slowAt: number): string[] {
  git(path.dirname(repo), 'init', '--quiet', '-b', 'main', repo);
  const shas: string[] = [];
  for (let k = 0; k < count; k++) {
    fs.writeFileSync(path.join(repo, 'n.txt'), `${k}\n`);
    if (k === slowAt) fs.writeFileSync(path.join(repo, 'slow'), 'the commit that makes it slower\n');
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', k === slowAt ? `Make it slower (#${k})` : `commit ${k}`);
    shas.push(git(repo, 'rev-parse', 'HEAD'));
  }
  return shas;
}

/**
 * A shell command printing `100 × (1.1 if ./slow exists) × (1 + noise)`, noise within ±`noisePercent` %
 * drawn from a hash of the commit's number and the build number: the same build gives the same value
 * run after run, repeats of one commit give different values.
 */
export function measureCommand(noisePercent: number): string {
  // The commit's number (n.txt), not its id: ids change with the time the test made the repository.
  const hash = 'printf %s "$(cat n.txt)-%(prop:buildnumber)s" | cksum | cut -d" " -f1';
  return (
    `h=$(${hash}); s=0; test -e slow && s=1; ` +
    `awk -v s=$s -v h=$h -v a=${noisePercent} 'BEGIN { printf "%%.6f\\n", 100 * (s ? 1.1 : 1) * (1 + ((h %% 2001) - 1000) / 1000 * a / 100) }'`
  );
}
