/**
 * A dashboard drawn without Grafana: each panel a Vega-Lite chart (time series lines with a
 * legend, or stat values) rendered headless to SVG by Vega, placed on Grafana's grid, and the
 * whole rasterised to PNG by resvg with the DejaVu fonts (Debian's fonts-dejavu-core).
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DashboardModel, PanelModel } from './queries.js';

export const FONT_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];
const FONT = 'DejaVu Sans';

export interface PanelSeries {
  /** The legend entry (the panel's legendFormat applied to the series' labels). */
  name: string;
  /** [unix seconds, value] */
  values: [number, number][];
}

/** What a panel's queries returned: index-aligned with `dashboard.panels`. */
export interface PanelResult {
  series: PanelSeries[];
  /** One line per failed query. */
  errors: string[];
}

/** Grafana's legendFormat: `{{label}}` replaced by the series' label values. */
export function legendName(format: string, metric: Record<string, string>): string {
  const name = format
    ? format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_match, label: string) => metric[label] ?? '')
    : `{${Object.entries(metric)
        .map(([key, value]) => `${key}="${value}"`)
        .join(', ')}}`;
  return name.replace(/\s+/g, ' ').trim() || '(no labels)';
}

interface Scale {
  factor: number;
  label: string;
}

const BYTES = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** How a unit's values are shown: the multiplier and the axis title, given the largest value. */
export function unitScale(unit: string, max: number): Scale {
  switch (unit) {
    case 's':
      if (max > 0 && max < 0.001) return { factor: 1e6, label: 'µs' };
      if (max > 0 && max < 1) return { factor: 1e3, label: 'ms' };
      return { factor: 1, label: 's' };
    case 'bytes': {
      const power = max > 0 ? Math.min(BYTES.length - 1, Math.floor(Math.log2(max) / 10)) : 0;
      return { factor: 1 / 1024 ** power, label: BYTES[power] ?? 'B' };
    }
    case 'percentunit':
      return { factor: 100, label: '%' };
    case 'reqps':
      return { factor: 1, label: 'req/s' };
    case 'ops':
      return { factor: 1, label: 'ops/s' };
    default:
      return { factor: 1, label: '' };
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e6) return value.toExponential(2);
  if (abs >= 100 || abs === 0) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

// Grafana's grid: 24 columns; a row unit of 36 px here (Grafana: 30) leaves room for legends.
const WIDTH = 1800;
const ROW = 36;
const HEADER = 56;
const GAP = 8;
const COLUMN = WIDTH / 24;

/** A panel and the pixels it gets. */
interface Frame {
  panel: PanelModel;
  width: number;
  height: number;
}

function baseSpec({ panel, width, height }: Frame) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 8,
    title: { text: panel.title, anchor: 'start', fontSize: 14, fontWeight: 'bold' },
    background: 'white',
    config: { font: FONT, view: { stroke: null } },
  } as const;
}

function messageSpec(frame: Frame, lines: string[], color: string): TopLevelSpec {
  return {
    ...baseSpec(frame),
    data: { values: lines.map((line, index) => ({ line: line.slice(0, 140), index })) },
    mark: { type: 'text', fontSize: 13, color, align: 'center' },
    encoding: {
      y: { field: 'index', type: 'ordinal', axis: null },
      x: { value: frame.width / 2 },
      text: { field: 'line' },
    },
  };
}

function statSpec(frame: Frame, result: PanelResult, unit: string): TopLevelSpec {
  const { width } = frame;
  const last = result.series.map((series) => ({
    name: series.name,
    value: series.values.filter(([, v]) => Number.isFinite(v)).at(-1)?.[1] ?? Number.NaN,
  }));
  const scale = unitScale(
    unit,
    Math.max(0, ...last.map(({ value }) => Math.abs(value)).filter(Number.isFinite)),
  );
  const values = last.map(({ name, value }, index) => ({
    index,
    name,
    value: Number.isFinite(value)
      ? `${formatNumber(value * scale.factor)} ${scale.label}`.trim()
      : 'no value',
  }));
  const y = { field: 'index', type: 'ordinal', axis: null } as const;
  return {
    ...baseSpec(frame),
    data: { values },
    layer: [
      {
        mark: { type: 'text', fontSize: 24, fontWeight: 'bold', color: '#2f7d32', align: 'right' },
        encoding: { y, x: { value: width / 2 - 8 }, text: { field: 'value' } },
      },
      {
        mark: { type: 'text', fontSize: 13, color: '#444', align: 'left' },
        encoding: { y, x: { value: width / 2 + 8 }, text: { field: 'name' } },
      },
    ],
  };
}

function timeseriesSpec(frame: Frame, result: PanelResult, unit: string): TopLevelSpec {
  const { width } = frame;
  const finite = result.series.flatMap((series) =>
    series.values
      .filter(([, v]) => Number.isFinite(v))
      .map(([t, v]) => ({ s: series.name, t: t * 1000, v })),
  );
  const scale = unitScale(unit, Math.max(0, ...finite.map(({ v }) => Math.abs(v))));
  const max = Math.max(0, ...finite.map(({ v }) => Math.abs(v * scale.factor)));
  return {
    ...baseSpec(frame),
    data: { values: finite.map((point) => ({ ...point, v: point.v * scale.factor })) },
    mark: { type: 'line', strokeWidth: 1.5, point: finite.length < 40 },
    encoding: {
      x: {
        field: 't',
        type: 'temporal',
        scale: { type: 'utc' },
        title: null,
        axis: { format: '%H:%M:%S', labelFontSize: 10, tickCount: 6 },
      },
      y: {
        field: 'v',
        type: 'quantitative',
        title: scale.label || null,
        // All zero (nothing failed, nothing shed): a 0–1 axis with the line at its foot.
        scale: max === 0 ? { domain: [0, 1] } : { zero: true },
        axis: { format: max >= 1000 ? '.3~s' : ',.3~r', labelFontSize: 10 },
      },
      color: {
        field: 's',
        type: 'nominal',
        title: null,
        legend: {
          orient: 'bottom',
          columns: 2,
          labelLimit: width / 2 - 40,
          labelFontSize: 10,
          symbolType: 'stroke',
          symbolLimit: 8,
        },
      },
    },
  };
}

function panelSpec(frame: Frame, result: PanelResult): TopLevelSpec {
  const { panel } = frame;
  const unit = panel.fieldConfig?.defaults?.unit ?? 'short';
  if (result.errors.length > 0) return messageSpec(frame, result.errors, '#c62828');
  const hasPoints = result.series.some((series) =>
    series.values.some(([, v]) => Number.isFinite(v)),
  );
  if (!hasPoints) return messageSpec(frame, ['No data'], '#777');
  return panel.type === 'stat'
    ? statSpec(frame, result, unit)
    : timeseriesSpec(frame, result, unit);
}

async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c,
  );
}

/** The dashboard as one SVG: a header, then every panel at its grid position. */
export async function renderDashboardSvg(
  dashboard: DashboardModel,
  results: readonly PanelResult[],
  subtitle: string,
): Promise<string> {
  const parts: string[] = [];
  let bottom = 0;
  for (const [index, panel] of dashboard.panels.entries()) {
    const result = results[index] ?? { series: [], errors: ['not queried'] };
    const { x, y, w, h } = panel.gridPos;
    const left = x * COLUMN + GAP / 2;
    const top = HEADER + y * ROW + GAP / 2;
    const width = w * COLUMN - GAP;
    const height = h * ROW - GAP;
    bottom = Math.max(bottom, top + height + GAP / 2);
    const svg = await toSvg(panelSpec({ panel, width, height }, result));
    parts.push(
      `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="white" stroke="#d0d0d0"/>`,
      svg.replace(/^<svg /, `<svg x="${left}" y="${top}" `),
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${bottom}" viewBox="0 0 ${WIDTH} ${bottom}">`,
    `<rect width="100%" height="100%" fill="#f4f5f5"/>`,
    `<text x="${GAP}" y="26" font-family="${FONT}" font-size="20" font-weight="bold" fill="#222">${escapeXml(dashboard.title)}</text>`,
    `<text x="${GAP}" y="46" font-family="${FONT}" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

/** The SVG rasterised with the DejaVu fonts only (no system font lookup: the same PNG everywhere). */
export function renderDashboardPng(svg: string): Buffer {
  const missing = FONT_FILES.filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(`fonts missing: ${missing.join(', ')} (apt-get install fonts-dejavu-core)`);
  }
  return new Resvg(svg, {
    background: 'white',
    font: {
      fontFiles: FONT_FILES,
      loadSystemFonts: false,
      defaultFontFamily: FONT,
      sansSerifFamily: FONT,
    },
  })
    .render()
    .asPng();
}
