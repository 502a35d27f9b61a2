/* The map's points as typed arrays (/api/map/points; the format is described in
 * engine/query/map_points.py), and which of them to draw for a view.
 *
 * Points come in drawing order: any prefix of it has the whole map's density (and
 * every topic), so the overview draws the first ``overview`` points and a zoomed view
 * the first ``detail`` points inside it: all of them once the view holds few enough. */

const MAGIC = "PSMAP\u0000\u0001\u0000";
const ARRAY_TYPES = { float32: Float32Array, int32: Int32Array };

/** The decoded map: ``x``, ``y`` (Float32Array), ``fine``, ``coarse`` (Int32Array),
 * ``ids`` (strings), ``papers``, ``overview``, ``detail`` and the topics; ``titles``
 * arrive apart (null until then). */
export function decodeMap(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== MAGIC) throw new Error("The map's data is not in a format this page reads (reload the page).");
  const headerLength = new DataView(buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  const data = { ...header, titles: null };
  for (const [name, spec] of Object.entries(header.arrays)) {
    data[name] = new ARRAY_TYPES[spec.type](buffer, spec.offset, spec.length);
  }
  const ids = new TextDecoder().decode(bytes.subarray(header.ids.offset, header.ids.offset + header.ids.bytes));
  data.ids = header.papers ? ids.split("\n") : [];
  return data;
}

/** Rows to draw for a view (display coordinates ``xs``/``ys`` and axis ranges; no
 * range: the overview): the first rows in drawing order inside it, at most ``limit``. */
export function rowsToDraw(xs, ys, overview, limit, range) {
  const n = xs.length;
  if (!range) return Int32Array.from({ length: Math.min(overview, n) }, (_, i) => i);
  const [x0, x1] = [Math.min(...range.x), Math.max(...range.x)];
  const [y0, y1] = [Math.min(...range.y), Math.max(...range.y)];
  const out = new Int32Array(Math.min(limit, n));
  let count = 0;
  for (let i = 0; i < n && count < limit; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out[count++] = i;
  }
  return out.subarray(0, count);
}
