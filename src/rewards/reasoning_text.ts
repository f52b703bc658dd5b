/**
 * @internal The reasoning part of a completion, for rewards that judge the chain of thought.
 * @module
 */

/**
 * @internal The text between `<tag>` and the following `</tag>`; with only an opening tag (output
 * truncated), everything after it; with only a closing tag (the template opened the block in the
 * prompt), everything before it; with neither, the whole completion.
 */
export function reasoningText(completion: string, tag: string): string {
  const open = completion.indexOf(`<${tag}>`);
  const close = completion.indexOf(`</${tag}>`, open < 0 ? 0 : open);
  if (open >= 0) return completion.slice(open + tag.length + 2, close < 0 ? completion.length : close);
  return close >= 0 ? completion.slice(0, close) : completion;
}
