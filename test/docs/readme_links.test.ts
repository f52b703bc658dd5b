// The README is also the npm page, where relative links break: every link is absolute (or an anchor),
// links into this repository name files that exist, and package.json carries the repository metadata.
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {repo} from './root_exports.js';

const REPO_URL = 'https://github.com/tfjs-grpo/tfjs-grpo';

describe('README links and package metadata', () => {
  it('README links are absolute or anchors, and repository links point at existing files', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((l) => !/^(https?:\/\/|#)/.test(l))).toEqual([]);
    const missing = links.filter((l) => l.startsWith(`${REPO_URL}/blob/main/`))
        .map((l) => l.slice(`${REPO_URL}/blob/main/`.length).replace(/#.*$/, ''))
        .filter((f) => !existsSync(join(repo, f)));
    expect(missing).toEqual([]);
  });
  it('package.json has repository, homepage and bugs', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    expect(pkg.repository).toEqual({type: 'git', url: `git+${REPO_URL}.git`});
    expect(pkg.homepage).toBe(`${REPO_URL}#readme`);
    expect(pkg.bugs).toEqual({url: `${REPO_URL}/issues`});
  });
});
