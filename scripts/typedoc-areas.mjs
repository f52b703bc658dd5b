// TypeDoc plugin: groups the API reference by area (Advantages, Losses, Log-probs, PPO, Rewards,
// Models, Training, Kernels, Validation) instead of one alphabetical list per kind. The areas come
// from the `// === Area (...) ===` headers of src/index.ts, the single source of truth: an export
// added under a header lands in that group with no tag in its source file. The Node entry
// (src/node.ts) reads its own headers, or defaults to `Training`.
import {readFileSync} from 'node:fs';
import {Comment, CommentTag, Converter, ReflectionKind} from 'typedoc';

/**
 * Export name -> area, from the `// === Area ===` headers of an entry file. The area is the header's
 * text up to a ':' or '(' (`// === Models: DeepSeek-V3 (MLA, ...) ===` is in `Models`).
 */
function areasOf(file, fallback) {
  const text = readFileSync(file, 'utf8');
  const headers = [...text.matchAll(/^\/\/ === ([^:(=]+?)\s*[:(=]/gm)].map((m) => [m.index, m[1].trim()]);
  const areas = new Map();
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    const area = headers.filter(([at]) => at < m.index).pop()?.[1] ?? fallback;
    for (const raw of m[1].split(',')) {
      const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop();
      if (name && area) areas.set(name, area);
    }
  }
  return areas;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const byModule = {index: areasOf('src/index.ts'), node: areasOf('src/node.ts', 'Training')};
    for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const areas = byModule[module.name];
      if (!areas) continue;
      for (const child of module.children ?? []) {
        const area = areas.get(child.name);
        if (!area) {
          app.logger.warn(`typedoc-areas: ${module.name}.${child.name} is under no '// === Area ===' header of the entry file`);
          continue;
        }
        child.comment ??= new Comment();
        child.comment.blockTags = child.comment.blockTags.filter((t) => t.tag !== '@group');
        child.comment.blockTags.push(new CommentTag('@group', [{kind: 'text', text: area}]));
      }
    }
  });
}
