// TypeDoc plugin: renders TeX math in doc comments and pages with KaTeX ($...$ inline, $$...$$ display),
// through the maintained markdown-it plugin @vscode/markdown-it-katex, and ships KaTeX's stylesheet and
// fonts with the site (assets/katex/), linked from every page's <head>.
import {cpSync, mkdirSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import katexPlugin from '@vscode/markdown-it-katex';
import {Application, JSX, RendererEvent} from 'typedoc';

const require = createRequire(import.meta.url);

/** @param {import('typedoc').Application} app */
export function load(app) {
  // Set once the configuration is read (a value set while plugins load is reset by the config pass).
  app.on(Application.EVENT_BOOTSTRAP_END, () => {
    app.options.setValue('markdownItLoader', (parser) => {
      // throwOnError: a malformed formula fails the build instead of printing raw TeX.
      (katexPlugin.default ?? katexPlugin)(parser, {throwOnError: true, output: 'htmlAndMathml'});
    });
  });
  app.renderer.hooks.on('head.end', (context) =>
    JSX.createElement('link', {rel: 'stylesheet', href: context.relativeURL('assets/katex/katex.min.css')}));
  app.renderer.on(RendererEvent.END, (event) => {
    const dist = dirname(require.resolve('katex/dist/katex.min.css'));
    const out = join(event.outputDirectory, 'assets', 'katex');
    mkdirSync(out, {recursive: true});
    cpSync(join(dist, 'katex.min.css'), join(out, 'katex.min.css'));
    cpSync(join(dist, 'fonts'), join(out, 'fonts'), {recursive: true});
  });
}
