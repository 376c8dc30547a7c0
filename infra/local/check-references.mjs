// Checks that the TypeScript project references match the declared workspace dependencies:
// - each workspace's tsconfig.json references every @bulkhead/* package in its `dependencies`;
// - it references nothing that is neither a dependency nor a devDependency (devDependencies,
//   used by the tests, need no reference: tsconfig.test.json type-checks the tests);
// - every reference points at an existing project;
// - the root tsconfig.json references every workspace that has a tsconfig.json.
// Prints one line per problem and exits 1, or one OK line. Plain Node, no dependencies.
// Usage: node infra/local/check-references.mjs   (`make check-references`)
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (p) => relative(root, p) || '.';
const problems = [];

// tsconfig files are JSONC: drop comments and trailing commas, leaving strings untouched.
function parseJsonc(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else {
      out += c;
    }
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

function readJson(file, jsonc = false) {
  try {
    const text = readFileSync(file, 'utf8');
    return jsonc ? parseJsonc(text) : JSON.parse(text);
  } catch (err) {
    problems.push(`${rel(file)}: cannot read: ${err.message}`);
    return undefined;
  }
}

// The `packages:` globs of pnpm-workspace.yaml (`dir/*` or a plain dir; `!` excludes).
function workspaceDirs() {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [];
  let inPackages = false;
  for (const line of yaml.split('\n')) {
    if (/^packages:/.test(line)) inPackages = true;
    else if (/^\S/.test(line) && !line.startsWith('#')) inPackages = false;
    else if (inPackages) {
      const m = /^\s*-\s*['"]?([^'"#\s]+)['"]?/.exec(line);
      if (m) globs.push(m[1]);
    }
  }
  const matches = (glob) => {
    if (!glob.includes('*')) return existsSync(join(root, glob)) ? [glob] : [];
    const m = /^([^*]+)\/\*$/.exec(glob);
    if (!m) throw new Error(`pnpm-workspace.yaml: unsupported glob ${glob}`);
    if (!existsSync(join(root, m[1]))) return [];
    return readdirSync(join(root, m[1]))
      .map((name) => `${m[1]}/${name}`)
      .filter((dir) => statSync(join(root, dir)).isDirectory());
  };
  const dirs = new Set();
  for (const glob of globs.filter((g) => !g.startsWith('!'))) {
    for (const dir of matches(glob)) {
      if (existsSync(join(root, dir, 'package.json'))) dirs.add(dir);
    }
  }
  for (const glob of globs.filter((g) => g.startsWith('!'))) {
    for (const dir of matches(glob.slice(1))) dirs.delete(dir);
  }
  return [...dirs].sort();
}

// A reference path names a project dir (its tsconfig.json) or a tsconfig file.
function resolveReference(fromDir, ref) {
  const target = resolve(fromDir, String(ref.path));
  const isFile = target.endsWith('.json');
  const file = isFile ? target : join(target, 'tsconfig.json');
  return { file, dir: rel(isFile ? dirname(target) : target), exists: existsSync(file) };
}

const workspaces = workspaceDirs().map((dir) => {
  const pkg = readJson(join(root, dir, 'package.json')) ?? {};
  const tsconfigFile = join(root, dir, 'tsconfig.json');
  const tsconfig = existsSync(tsconfigFile) ? readJson(tsconfigFile, true) : undefined;
  return { dir, name: pkg.name, pkg, tsconfig };
});
const byDir = new Map(workspaces.map((w) => [w.dir, w]));
const names = new Set(workspaces.map((w) => w.name));
let referencesChecked = 0;

for (const w of workspaces) {
  if (!w.tsconfig) continue;
  const bulkhead = (deps) => Object.keys(deps ?? {}).filter((n) => n.startsWith('@bulkhead/'));
  const deps = new Set(bulkhead(w.pkg.dependencies));
  const devDeps = new Set(bulkhead(w.pkg.devDependencies));
  const referenced = new Set();
  for (const ref of w.tsconfig.references ?? []) {
    referencesChecked++;
    const { dir, exists } = resolveReference(join(root, w.dir), ref);
    const target = byDir.get(dir);
    if (!exists) {
      problems.push(`${w.dir}: tsconfig.json references ${ref.path}, which does not exist`);
    } else if (!target) {
      problems.push(
        `${w.dir}: tsconfig.json references ${ref.path}, which is no workspace package`,
      );
    } else if (referenced.has(target.name)) {
      problems.push(`${w.dir}: tsconfig.json references ${target.name} twice`);
    } else {
      referenced.add(target.name);
      if (!deps.has(target.name) && !devDeps.has(target.name)) {
        problems.push(
          `${w.dir}: tsconfig.json references ${target.name} (${ref.path}) but package.json neither depends nor devDepends on it`,
        );
      }
    }
  }
  for (const dep of [...deps].sort()) {
    if (!names.has(dep)) {
      problems.push(`${w.dir}: depends on ${dep} but no workspace package has that name`);
    } else if (!referenced.has(dep)) {
      problems.push(`${w.dir}: depends on ${dep} but tsconfig.json has no reference to it`);
    }
  }
}

const rootTsconfig = readJson(join(root, 'tsconfig.json'), true);
if (rootTsconfig) {
  const referencedDirs = new Set();
  for (const ref of rootTsconfig.references ?? []) {
    referencesChecked++;
    const { dir, exists } = resolveReference(root, ref);
    if (exists) referencedDirs.add(dir);
    else problems.push(`tsconfig.json: references ${ref.path}, which does not exist`);
  }
  for (const w of workspaces) {
    if (w.tsconfig && !referencedDirs.has(w.dir)) {
      problems.push(
        `tsconfig.json: no reference to ${w.dir} (${w.name}), which has a tsconfig.json`,
      );
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.log(p);
  console.log(
    `${problems.length} problem(s) in tsconfig references (infra/local/check-references.mjs)`,
  );
  process.exit(1);
}
const projects = workspaces.filter((w) => w.tsconfig).length;
console.log(
  `tsconfig references match dependencies: ${workspaces.length} workspaces, ${projects} projects, ${referencesChecked} references OK`,
);
