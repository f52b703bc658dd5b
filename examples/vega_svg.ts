/**
 * Renders a vega-lite spec to an SVG string (headless, no canvas), for the demo, recipe and bench reports.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** Compiles `spec` with vega-lite and renders it with vega to SVG text. */
export async function vegaLiteSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  // vega-lite draws a dash legend's line symbols without a stroke colour: give them one.
  for (const legend of compiled.legends ?? []) {
    if (legend.strokeDash !== undefined) legend.encode = {...legend.encode, symbols: {update: {stroke: {value: '#444'}}}};
  }
  const view = new vega.View(vega.parse(compiled), {renderer: 'none'});
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
