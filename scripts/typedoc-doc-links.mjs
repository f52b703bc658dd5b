// TypeDoc plugin: the README links the topic pages by absolute GitHub URL (so that they work on the
// npm page); in the API site those links go to the same pages rendered by TypeDoc (projectDocuments:
// docs/X.md -> documents/X.html) instead of leaving the site.
import {MarkdownEvent} from 'typedoc';

const DOCS = /\]\(https:\/\/github\.com\/tfjs-grpo\/tfjs-grpo\/blob\/main\/docs\/([\w.-]+)\.md(#[\w-]+)?\)/g;

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.renderer.on(MarkdownEvent.PARSE, (event) => {
    const up = '../'.repeat(event.page.url.split('/').length - 1);
    event.parsedText = event.parsedText.replace(DOCS, (_, name, anchor) => `](${up}documents/${name}.html${anchor ?? ''})`);
  }, 100); // before TypeDoc's own markdown parser (priority 0)
}
